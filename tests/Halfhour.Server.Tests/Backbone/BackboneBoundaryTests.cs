using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Halfhour.Broker.Audit;
using Halfhour.Market.Participants;

namespace Halfhour.Server.Tests.Backbone;

/// <summary>What the backbone refuses or keeps apart: entitlement, environments, hostile requests; and what it records and documents.</summary>
[Collection(PullCollection.Name)]
public sealed class BackboneBoundaryTests(PullServerFixture fixture)
{
    private BackboneServer Server => fixture.Server;

    [Fact]
    public async Task A_participant_sending_an_interface_its_role_may_not_send_gets_400_with_MSG1009()
    {
        const long number = 501;
        var sender = Server.SenderOf(number);
        var supplier = Server.Roster.Suppliers[0];
        var body = Encoding.UTF8.GetString(Server.Batch(number))
            .Replace($"\"senderDIPID\":\"{sender}\"", $"\"senderDIPID\":\"{supplier}\"", StringComparison.Ordinal)
            .Replace("\"senderRoleID\":\"SDS\"", "\"senderRoleID\":\"SUP\"", StringComparison.Ordinal);
        using var client = Server.ClientOf(supplier);
        using var response = await client.PostAsync(new Uri("/dip-channel/IF-021", UriKind.Relative), BackboneServer.Json(Encoding.UTF8.GetBytes(body)));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        var result = JsonNode.Parse(text)!["messageArray"]![0]!;
        Assert.StartsWith("MSG1009", result["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("senderRoleID", result["help"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(result["transactionID"]);
    }

    [Fact]
    public async Task Environments_are_isolated_the_same_DIP_IDs_in_UIT_see_nothing_of_DEV_and_cannot_send_into_it()
    {
        const long number = 601;
        var sender = Server.SenderOf(number);
        var lss = Server.Roster.LoadShaping;
        foreach (var p in Server.Roster.Participants(MarketEnvironment.UIT).Where(p => p.DipId == sender || p.DipId == lss)) Server.Register(p);
        using var uitLss = Server.ClientOf(lss, MarketEnvironment.UIT);
        using var uitSender = Server.ClientOf(sender, MarketEnvironment.UIT);

        await Server.PublishAsync(0, number);
        Assert.Empty(await PullTests.FetchAsync(uitLss, wait: 1));

        using var crossing = await uitSender.PostAsync(new Uri("/dip-channel/IF-021", UriKind.Relative), BackboneServer.Json(Server.BatchOnDay(1, number)));
        var text = await crossing.Content.ReadAsStringAsync();
        Assert.True(crossing.StatusCode == HttpStatusCode.BadRequest, text);
        Assert.StartsWith("MSG1008", JsonNode.Parse(text)!["messageArray"]![0]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Hostile_requests_to_the_backbone_endpoints_are_answered_with_problem_details()
    {
        var lss = Server.Roster.LoadShaping;
        using var client = Server.ClientOf(lss);
        using var notJson = await client.PostAsync(new Uri($"/dip-channel/IF-021/replay/{lss}", UriKind.Relative), new StringContent("<xml/>", Encoding.UTF8, "application/xml"));
        await ProblemAssert.IsProblemAsync(notJson, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        using var deep = await client.PostAsync(new Uri($"/dip-channel/IF-021/replay/{lss}", UriKind.Relative),
            BackboneServer.Json(Encoding.UTF8.GetBytes(new string('[', 5000) + new string(']', 5000))));
        await ProblemAssert.IsProblemAsync(deep, HttpStatusCode.BadRequest, "invalid-message-request");
        using var truncated = await client.PostAsync(new Uri("/native/v1/channels/IF-021/acknowledgements", UriKind.Relative), BackboneServer.Json("{\"receipts\":[\"1\""u8.ToArray()));
        await ProblemAssert.IsProblemAsync(truncated, HttpStatusCode.BadRequest, "malformed-acknowledgement");
        using var unknownPubconfig = await client.PostAsync(new Uri($"/dip-channel/IF-777/pubconfig/{lss}", UriKind.Relative), BackboneServer.Json("{}"u8.ToArray()));
        await ProblemAssert.IsProblemAsync(unknownPubconfig, HttpStatusCode.NotFound, "unknown-channel");

        using var anonymous = DipHttpClientFor(Server);
        using var refused = await anonymous.GetAsync(new Uri("/native/v1/channels/IF-021/messages", UriKind.Relative));
        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Unauthorized, "no-credentials");
    }

    [Fact]
    public async Task Authentication_failures_and_webhook_changes_are_in_the_audit_trail()
    {
        var audit = Server.Host.Current!.Audit;
        var (before, _) = await audit.ReadAsync(0, 16 << 20);
        using (var anonymous = DipHttpClientFor(Server))
        using (await anonymous.GetAsync(new Uri("/native/v1/channels/IF-021/messages", UriKind.Relative)))
        {
        }

        var supplier = Server.Roster.Suppliers[1];
        using var client = Server.ClientOf(supplier);
        using (var set = await PushTests.ConfigureAsync(client, supplier, new { callbackURL = "http://127.0.0.1:9/nowhere" }))
        {
            Assert.Equal(HttpStatusCode.Created, set.StatusCode);
        }

        using (await client.DeleteAsync(new Uri($"/dip-channel/IF-021/pubconfig/{supplier}", UriKind.Relative)))
        {
        }

        List<AuditEntry> added = [];
        for (var i = 0; i < 50 && !added.Any(e => e.Action == AuditAction.AuthenticationFailed); i++)
        {
            await Task.Delay(50); // authentication failures are recorded without holding the refused request up
            added = [.. (await audit.ReadAsync(0, 16 << 20)).Entries.Skip(before.Count)];
        }

        Assert.Contains(added, e => e.Action == AuditAction.AuthenticationFailed && e.Subject == "GET /native/v1/channels/IF-021/messages");
        Assert.Equal(2, added.Count(e => e.Action == AuditAction.ConfigurationChanged && e.Actor == supplier));
    }

    [Fact]
    public async Task The_OpenAPI_document_describes_the_native_and_operator_endpoints()
    {
        using var anonymous = DipHttpClientFor(Server);
        using var response = await anonymous.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var paths = JsonNode.Parse(text)!["paths"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Contains("/native/v1/channels/{id}/messages", paths);
        Assert.Contains("/native/v1/channels/{id}/acknowledgements", paths);
        Assert.Contains("/operator/participants", paths);
        Assert.DoesNotContain(paths, p => p.StartsWith("/dip-channel", StringComparison.Ordinal));
    }

    private static HttpClient DipHttpClientFor(BackboneServer server) => Halfhour.Client.Transport.DipHttpClient.Create(new Halfhour.Client.Transport.DipConnection
    {
        BaseAddress = server.Server.BaseAddress, ServerTrust = server.Trust, SignRequests = false,
    });
}
