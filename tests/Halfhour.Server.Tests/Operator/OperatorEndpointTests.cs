using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Halfhour.Market.Participants;

namespace Halfhour.Server.Tests.Operator;

[Collection(ServerCollection.Name)]
public sealed class OperatorEndpointTests(ServerFixture server) : IDisposable
{
    private readonly HttpClient _operator = OperatorClient(server, server.Sandbox.OperatorApiKey);

    public void Dispose() => _operator.Dispose();

    private static HttpClient OperatorClient(ServerFixture server, string? key)
    {
        var client = server.Client(server.Main);
        if (key is not null) client.DefaultRequestHeaders.Add("X-Operator-Key", key);
        return client;
    }

    private async Task<int> StatusOfMeAsync(string apiKey)
    {
        using var client = server.Client(server.Main, apiKey: apiKey);
        using var response = await client.GetAsync(new Uri("/participant/me", UriKind.Relative));
        return (int)response.StatusCode;
    }

    private async Task<JsonElement> RegisterAsync(string dipId, string role = "SUP", string environment = "SIT")
    {
        using var response = await _operator.PostAsJsonAsync(new Uri("/operator/participants", UriKind.Relative),
            new { dipId, role, mpid = "OPRA", name = "Operator-registered", environment });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task The_operator_api_without_the_operator_key_is_refused_with_401()
    {
        using var client = OperatorClient(server, null);

        using var response = await client.GetAsync(new Uri("/operator/participants", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "operator-key-missing");
    }

    [Fact]
    public async Task The_operator_api_with_a_participants_key_instead_of_the_operator_key_is_refused_with_403()
    {
        using var client = OperatorClient(server, server.Participant(Role.SUP).ApiKey);

        using var response = await client.GetAsync(new Uri("/operator/participants", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Forbidden, "operator-key-refused");
    }

    [Fact]
    public async Task The_operator_lists_the_participants_of_an_environment_without_their_secrets()
    {
        using var response = await _operator.GetAsync(new Uri("/operator/participants?environment=dev", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(text);
        var list = json.RootElement.EnumerateArray().ToList();
        Assert.True(list.Count >= Enum.GetValues<Role>().Length);
        Assert.All(list, p => Assert.Equal("DEV", p.GetProperty("environment").GetString()));
        Assert.DoesNotContain(server.Participant(Role.SUP).ApiKey, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_environment_is_refused_with_400_naming_the_valid_ones()
    {
        using var response = await _operator.GetAsync(new Uri("/operator/participants?environment=QA", UriKind.Relative));

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "unknown-environment");
        Assert.Contains("PRD, SITB, SIT, UIT, DEV", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_registered_participant_connects_with_the_issued_certificate_and_api_key()
    {
        var issued = await RegisterAsync("5000000001");
        using var certificate = X509Certificate2.CreateFromPem(issued.GetProperty("certificatePem").GetString(), issued.GetProperty("privateKeyPem").GetString());
        using var client = server.Client(server.Main, certificate, issued.GetProperty("apiKey").GetString());

        using var response = await client.GetAsync(new Uri("/participant/me", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var me = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("5000000001", me.GetProperty("dipId").GetString());
        Assert.Equal("SIT", me.GetProperty("environment").GetString());
        Assert.Equal("ClientCertificate, ApiKey", me.GetProperty("identifiedBy").GetString());
    }

    [Fact]
    public async Task Registering_a_dip_id_twice_in_one_environment_is_refused_with_409()
    {
        await RegisterAsync("5000000002");

        using var again = await _operator.PostAsJsonAsync(new Uri("/operator/participants", UriKind.Relative),
            new { dipId = "5000000002", role = "SUP", mpid = "OPRA", name = "Again", environment = "SIT" });

        await ProblemAssert.IsProblemAsync(again, HttpStatusCode.Conflict, "already-registered");
    }

    [Fact]
    public async Task A_rotation_keeps_the_old_key_valid_until_a_rotation_that_retires_it()
    {
        var first = (await RegisterAsync("5000000003")).GetProperty("apiKey").GetString()!;
        var rotate = new Uri("/operator/participants/SIT/5000000003/credentials", UriKind.Relative);

        using var overlap = await _operator.PostAsJsonAsync(rotate, new { retirePrevious = false });
        var second = (await overlap.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("apiKey").GetString()!;
        var duringOverlap = (await StatusOfMeAsync(first), await StatusOfMeAsync(second));
        using var retire = await _operator.PostAsJsonAsync(rotate, new { retirePrevious = true });
        var issued = await retire.Content.ReadFromJsonAsync<JsonElement>();
        var third = issued.GetProperty("apiKey").GetString()!;

        Assert.Equal((200, 200), duringOverlap);
        Assert.Equal(401, await StatusOfMeAsync(first));
        Assert.Equal(401, await StatusOfMeAsync(second));
        Assert.Equal(200, await StatusOfMeAsync(third));
        Assert.Single(issued.GetProperty("participant").GetProperty("certificates").EnumerateArray());
    }

    [Fact]
    public async Task A_retired_certificate_no_longer_identifies_its_participant()
    {
        var registered = await RegisterAsync("5000000004");
        using var first = X509Certificate2.CreateFromPem(registered.GetProperty("certificatePem").GetString(), registered.GetProperty("privateKeyPem").GetString());
        using var rotated = await _operator.PostAsJsonAsync(new Uri("/operator/participants/SIT/5000000004/credentials", UriKind.Relative), new { retirePrevious = false });
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);

        using var retired = await _operator.DeleteAsync(new Uri($"/operator/participants/SIT/5000000004/certificates/{first.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256)}", UriKind.Relative));
        using var client = server.Client(server.Main, first);
        using var response = await client.GetAsync(new Uri("/participant/me", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, retired.StatusCode);
        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "client-certificate-not-registered");
    }

    [Fact]
    public async Task A_registration_body_that_is_not_json_is_refused_with_400_problem_details()
    {
        using var response = await _operator.PostAsync(new Uri("/operator/participants", UriKind.Relative), ServerFixture.Json("{ not json"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "malformed-request");
    }

    [Fact]
    public async Task The_runtime_figures_only_grow_and_count_the_work_done_between_two_readings()
    {
        var first = await _operator.GetFromJsonAsync<Halfhour.Client.Transport.RuntimeFigures>(new Uri("/operator/runtime", UriKind.Relative));
        await RegisterAsync("5000000005"); // work in the server: a key, a certificate, a registry write
        var second = await _operator.GetFromJsonAsync<Halfhour.Client.Transport.RuntimeFigures>(new Uri("/operator/runtime", UriKind.Relative));

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.True(first.ProcessCpuSeconds > 0 && first.AllocatedBytes > 0 && first.WorkingSetBytes > 0 && first.ThreadPoolThreads > 0);
        Assert.True(first.JitCompiledMethods > 0 && first.JitSeconds > 0, "the process compiled methods to answer at all");
        Assert.True(second.JitCompiledMethods >= first.JitCompiledMethods && second.JitSeconds >= first.JitSeconds);
        Assert.True(first.KernelCpuSeconds > 0 && first.KernelCpuSeconds <= first.ProcessCpuSeconds, "kernel time is a part of the process's CPU");
        Assert.True(second.At >= first.At);
        Assert.True(second.AllocatedBytes > first.AllocatedBytes, $"allocated {first.AllocatedBytes:N0} then {second.AllocatedBytes:N0}");
        Assert.True(second.ProcessCpuSeconds >= first.ProcessCpuSeconds);
        Assert.True(second.ThreadPoolCompletedItems > first.ThreadPoolCompletedItems);
        Assert.True(second.Gen0Collections >= first.Gen0Collections && second.Gen2Collections >= first.Gen2Collections);
    }

    [Theory]
    [InlineData("/operator/runtime")]
    [InlineData("/operator/inbox-reading")]
    public async Task The_runtime_and_inbox_reading_figures_are_refused_to_a_participants_key(string path)
    {
        using var client = OperatorClient(server, server.Participant(Role.SUP).ApiKey);

        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Forbidden, "operator-key-refused");
    }
}
