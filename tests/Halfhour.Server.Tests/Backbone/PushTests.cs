using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Halfhour.Market.Participants;
using Halfhour.Server.Push;
using Microsoft.AspNetCore.Http;

namespace Halfhour.Server.Tests.Backbone;

/// <summary>A backbone whose webhook retries are quick, for the push tests.</summary>
public sealed class PushServerFixture() : BackboneServerFixture(new()
{
    ["Halfhour:Backbone:WebhookInitialBackoff"] = "00:00:00.100",
    ["Halfhour:Backbone:WebhookMaxBackoff"] = "00:00:00.400",
    ["Halfhour:Backbone:WebhookTimeout"] = "00:00:01",
    ["Halfhour:Backbone:ReplayPageSize"] = "2",
});

[CollectionDefinition(Name)]
public sealed class PushCollection : ICollectionFixture<PushServerFixture>
{
    public const string Name = "backbone-push";
}

[Collection(PushCollection.Name)]
public sealed class PushTests(PushServerFixture fixture)
{
    private BackboneServer Server => fixture.Server;

    internal static async Task<HttpResponseMessage> ConfigureAsync(HttpClient client, string recipient, object config, string channel = "IF-021") =>
        await client.PostAsync(new Uri($"/dip-channel/{channel}/pubconfig/{recipient}", UriKind.Relative),
            BackboneServer.Json(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(config))));

    [Fact]
    public async Task A_registered_webhook_receives_signed_pushes_through_failures_timeouts_and_a_207_losing_nothing_and_keeping_MPAN_order()
    {
        // The distributor of these MPANs receives only them on this server: its whole stream is the test's.
        const long first = 3001;
        var distributor = Server.Roster.DistributorOf(Server.Builder.MpanOf(first));
        var numbers = Enumerable.Range(0, 40).Select(i => first + i).Where(n => Server.Roster.DistributorOf(Server.Builder.MpanOf(n)) == distributor).Take(4).ToArray();
        await using var receiver = await WebhookReceiver.StartAsync(Server.Server.Sandbox.BackboneCertificate);
        receiver.Behaviour = async (attempt, messages) =>
        {
            switch (attempt)
            {
                case 1 or 2: return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
                case 3: await Task.Delay(TimeSpan.FromSeconds(2)); return Results.StatusCode(StatusCodes.Status201Created); // beyond the timeout: not taken
                case 4: return receiver.PartlyTaken(messages, new HashSet<string>([messages[^1].TransactionId]));
                default: return null;
            }
        };

        using var client = Server.ClientOf(distributor);
        using (var configured = await ConfigureAsync(client, distributor, new { callbackURL = receiver.Url.ToString(), maxMessageCount = 5 }))
        {
            Assert.Equal(HttpStatusCode.Created, configured.StatusCode);
        }

        // Two settlement days per MPAN: order per MPAN is what must hold.
        var published = await Server.PublishAsync(0, numbers);
        published.AddRange(await Server.PublishAsync(1, numbers));
        await receiver.WaitForAsync(published, TimeSpan.FromSeconds(30));

        Assert.Equal(0, receiver.BadSignatures);
        Assert.True(receiver.Attempts >= 5);
        var order = published.Select((id, i) => (id, i)).ToDictionary(p => p.id, p => p.i);
        foreach (var mpan in receiver.Taken.Where(t => order.ContainsKey(t.TransactionId)).GroupBy(t => t.Mpan))
        {
            var positions = mpan.Select(t => order[t.TransactionId]).Distinct().ToList();
            Assert.Equal(positions.Order(), positions);
        }

        using var status = await client.GetAsync(new Uri($"/dip-channel/IF-021/deliveryStatus/{distributor}/{published[0]}", UriKind.Relative));
        var record = JsonNode.Parse(await status.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.OK, status.StatusCode);
        Assert.Equal("Delivered", record["DeliveryStatus"]!.GetValue<string>());
        Assert.Equal(published[0], record["DIPTransactionID"]!.GetValue<string>());
        Assert.Equal("Outbound", record["JournalEntries"]![1]!["DIPStage"]!.GetValue<string>());

        using var removed = await client.DeleteAsync(new Uri($"/dip-channel/IF-021/pubconfig/{distributor}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
    }

    [Fact]
    public async Task Delivery_status_is_204_for_an_unknown_message_and_for_one_not_routed_to_the_caller()
    {
        var ids = await Server.PublishAsync(2, 3100);
        var mpan = Server.Builder.MpanOf(3100);
        var other = Server.Roster.Suppliers.First(s => s != Server.Roster.SupplierOf(mpan));
        using var client = Server.ClientOf(other);
        using var notRouted = await client.GetAsync(new Uri($"/dip-channel/IF-021/deliveryStatus/{other}/{ids[0]}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, notRouted.StatusCode);
        using var unknown = await client.GetAsync(new Uri($"/dip-channel/IF-021/deliveryStatus/{other}/T-nonsense", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, unknown.StatusCode);

        using var mds = Server.ClientOf(Server.Roster.MarketWideData);
        using var pending = await mds.GetAsync(new Uri($"/dip-channel/IF-021/deliveryStatus/{Server.Roster.MarketWideData}/{ids[0]}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, pending.StatusCode);
        Assert.Equal("Pending", JsonNode.Parse(await pending.Content.ReadAsStringAsync())!["DeliveryStatus"]!.GetValue<string>());
    }

    [Fact]
    public async Task Webhook_configuration_is_refused_for_another_recipient_and_for_callbacks_outside_the_policy()
    {
        var supplier = Server.Roster.Suppliers[0];
        using var client = Server.ClientOf(supplier);
        using var other = await ConfigureAsync(client, Server.Roster.Suppliers[1], new { callbackURL = "http://127.0.0.1:9/hook" });
        await ProblemAssert.IsProblemAsync(other, HttpStatusCode.Forbidden, "other-recipient");
        using var privateHttp = await ConfigureAsync(client, supplier, new { callbackURL = "http://10.1.2.3/hook" });
        await ProblemAssert.IsProblemAsync(privateHttp, HttpStatusCode.BadRequest, "callback-url-refused");
        using var badCount = await ConfigureAsync(client, supplier, new { callbackURL = "https://localhost/hook", maxMessageCount = 1.5 });
        await ProblemAssert.IsProblemAsync(badCount, HttpStatusCode.BadRequest, "invalid-webhook-config");
        using var unknownField = await ConfigureAsync(client, supplier, new { callbackURL = "https://localhost/hook", colour = "red" });
        await ProblemAssert.IsProblemAsync(unknownField, HttpStatusCode.BadRequest, "invalid-webhook-config");
    }

    [Theory]
    [InlineData(MarketEnvironment.DEV, "http://127.0.0.1:8080/hook", false, true)]
    [InlineData(MarketEnvironment.DEV, "https://localhost/hook", false, true)]
    [InlineData(MarketEnvironment.DEV, "http://receiver.example.com/hook", false, false)]
    [InlineData(MarketEnvironment.PRD, "https://receiver.example.com/hook", false, true)]
    [InlineData(MarketEnvironment.PRD, "http://receiver.example.com/hook", false, false)]
    [InlineData(MarketEnvironment.PRD, "https://127.0.0.1/hook", false, false)]
    [InlineData(MarketEnvironment.SITB, "https://localhost/hook", false, false)]
    [InlineData(MarketEnvironment.PRD, "https://192.168.1.10/hook", false, false)]
    [InlineData(MarketEnvironment.PRD, "https://[fd00::1]/hook", false, false)]
    [InlineData(MarketEnvironment.PRD, "https://169.254.169.254/latest", false, false)]
    [InlineData(MarketEnvironment.PRD, "https://192.168.1.10/hook", true, true)]
    [InlineData(MarketEnvironment.PRD, "https://user:pw@receiver.example.com/hook", false, false)]
    [InlineData(MarketEnvironment.PRD, "ftp://receiver.example.com/hook", false, false)]
    public void The_callback_policy_allows_loopback_only_in_the_sandbox_and_private_addresses_only_when_configured(
        MarketEnvironment environment, string url, bool allowPrivate, bool allowed) =>
        Assert.Equal(allowed, new CallbackAddressPolicy(allowPrivate).Refusal(url, environment) is null);
}
