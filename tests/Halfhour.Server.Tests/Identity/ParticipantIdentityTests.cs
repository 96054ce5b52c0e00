using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Halfhour.Market.Participants;

namespace Halfhour.Server.Tests.Identity;

[Collection(ServerCollection.Name)]
public class ParticipantIdentityTests(ServerFixture server)
{
    private async Task<JsonElement> MeAsync(HttpClient client)
    {
        using var response = await client.GetAsync(new Uri("/participant/me", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task A_participant_presenting_its_client_certificate_over_mutual_tls_is_identified()
    {
        using var client = server.Client(server.Main, server.CertificateOf(Role.SUP));

        var me = await MeAsync(client);

        Assert.Equal(server.Participant(Role.SUP).Participant.DipId, me.GetProperty("dipId").GetString());
        Assert.Equal("SUP", me.GetProperty("role").GetString());
        Assert.Equal("DEV", me.GetProperty("environment").GetString());
        Assert.Equal("ClientCertificate", me.GetProperty("identifiedBy").GetString());
    }

    [Fact]
    public async Task A_participant_presenting_only_its_api_key_is_identified()
    {
        using var client = server.Client(server.Main, apiKey: server.Participant(Role.LDSO).ApiKey);

        var me = await MeAsync(client);

        Assert.Equal(server.Participant(Role.LDSO).Participant.DipId, me.GetProperty("dipId").GetString());
        Assert.Equal("ApiKey", me.GetProperty("identifiedBy").GetString());
    }

    [Fact]
    public async Task A_certificate_and_api_key_of_the_same_participant_identify_it_together()
    {
        using var client = server.Client(server.Main, server.CertificateOf(Role.MSS), server.Participant(Role.MSS).ApiKey);

        var me = await MeAsync(client);

        Assert.Equal("ClientCertificate, ApiKey", me.GetProperty("identifiedBy").GetString());
    }

    [Fact]
    public async Task A_caller_without_credentials_is_refused_with_401_problem_details()
    {
        using var client = server.Client(server.Main);

        using var response = await client.GetAsync(new Uri("/participant/me", UriKind.Relative));

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "no-credentials");
        Assert.Contains("X-API-Key", detail, StringComparison.Ordinal);
        Assert.Equal("ApiKey", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
    }

    [Fact]
    public async Task A_certificate_from_an_unknown_authority_is_refused_with_401_problem_details()
    {
        using var stranger = TestAuthority.SelfSigned("1234567890");
        using var client = server.Client(server.Main, stranger);

        using var response = await client.GetAsync(new Uri("/participant/me", UriKind.Relative));

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "client-certificate-not-registered");
        Assert.Contains("CN=1234567890", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_certificate_of_one_participant_with_the_api_key_of_another_is_refused_with_403()
    {
        using var client = server.Client(server.Main, server.CertificateOf(Role.SUP), server.Participant(Role.LDSO).ApiKey);

        using var response = await client.GetAsync(new Uri("/participant/me", UriKind.Relative));

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Forbidden, "credentials-disagree");
        Assert.Contains(server.Participant(Role.SUP).Participant.DipId, detail, StringComparison.Ordinal);
        Assert.Contains(server.Participant(Role.LDSO).Participant.DipId, detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unregistered_api_key_is_refused_with_401()
    {
        using var client = server.Client(server.Main, apiKey: "not-a-key-anyone-was-given");

        using var response = await client.GetAsync(new Uri("/participant/me", UriKind.Relative));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "api-key-not-registered");
    }
}
