using System.Net;
using System.Text.Json;
using Halfhour.Market.Participants;

namespace Halfhour.Server.Tests.Hosting;

[Collection(ServerCollection.Name)]
public class ServerHostTests(ServerFixture server)
{
    [Fact]
    public async Task The_server_listens_on_loopback_over_tls_on_the_port_it_was_given()
    {
        Assert.Equal("127.0.0.1", server.Main.BaseAddress.Host);
        Assert.Equal("https", server.Main.BaseAddress.Scheme);
        Assert.NotEqual(0, server.Main.BaseAddress.Port);
        using var client = server.Client(server.Main);

        using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Readyz_is_ready_with_a_publish_pipeline_and_not_ready_without_one()
    {
        using var main = server.Client(server.Main);
        using var bare = server.Client(server.Bare);

        using var ready = await main.GetAsync(new Uri("/readyz", UriKind.Relative));
        using var notReady = await bare.GetAsync(new Uri("/readyz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        using var json = JsonDocument.Parse(await notReady.Content.ReadAsStringAsync());
        Assert.Contains("No publish pipeline", json.RootElement.GetProperty("checks")[0].GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publishing_without_a_publish_pipeline_is_answered_503_problem_details()
    {
        using var client = server.SigningClient(Role.SUP, server.Bare);

        using var response = await client.PostAsync(new Uri("/dip-channel/IF-021", UriKind.Relative), ServerFixture.Json("""[{"payload":{}}]"""));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.ServiceUnavailable, "publishing-not-configured");
    }

    [Fact]
    public async Task A_participant_over_its_rate_is_answered_429_with_retry_after()
    {
        using var client = server.Client(server.Bare, apiKey: server.Participant(Role.MDS).ApiKey);
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;

        for (var i = 0; i < ServerFixture.BareBurst + 3 && refused is null; i++)
        {
            var response = await client.GetAsync(new Uri("/participant/me", UriKind.Relative));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) refused = response;
            else response.Dispose();
        }

        Assert.NotNull(refused);
        using (refused)
        {
            Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "Retry-After names a delay");
            var detail = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.TooManyRequests, "rate-limited");
            Assert.Contains(server.Participant(Role.MDS).Participant.DipId, detail, StringComparison.Ordinal);
        }

        // Another participant keeps its own allowance.
        using var other = server.Client(server.Bare, apiKey: server.Participant(Role.LSS).ApiKey);
        using var fine = await other.GetAsync(new Uri("/participant/me", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
    }
}
