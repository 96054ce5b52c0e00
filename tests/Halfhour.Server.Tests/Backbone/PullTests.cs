using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Halfhour.Server.Tests.Backbone;

/// <summary>One backbone server shared by the pull tests, with a short visibility timeout; recipients every test shares (LSS, MDS) are drained first.</summary>
public sealed class PullServerFixture() : BackboneServerFixture(new() { ["Halfhour:Backbone:VisibilityTimeout"] = "00:00:02" });

[CollectionDefinition(Name)]
public sealed class PullCollection : ICollectionFixture<PullServerFixture>
{
    public const string Name = "backbone-pull";
}

[Collection(PullCollection.Name)]
public sealed class PullTests(PullServerFixture fixture)
{
    private BackboneServer Server => fixture.Server;

    internal static async Task<JsonArray> FetchAsync(HttpClient client, string channel = "IF-021", int max = 100, int wait = 0)
    {
        using var response = await client.GetAsync(new Uri($"/native/v1/channels/{channel}/messages?max={max}&waitSeconds={wait}", UriKind.Relative));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!["messages"]!.AsArray();
    }

    internal static async Task<int> AckAsync(HttpClient client, IEnumerable<string> receipts, string channel = "IF-021")
    {
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { receipts }));
        using var response = await client.PostAsync(new Uri($"/native/v1/channels/{channel}/acknowledgements", UriKind.Relative), BackboneServer.Json(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!["acknowledged"]!.GetValue<int>();
    }

    /// <summary>Takes and acknowledges everything waiting for a recipient, so a test starts from an empty inbox.</summary>
    internal static async Task DrainAsync(HttpClient client)
    {
        while (await FetchAsync(client, max: 1000) is { Count: > 0 } left)
        {
            await AckAsync(client, left.Select(m => m!["receipt"]!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task The_four_IF021_recipient_roles_pull_exactly_what_is_routed_to_them_and_an_acknowledged_message_never_returns()
    {
        const long number = 101;
        var mpan = Server.Builder.MpanOf(number);
        string[] recipients = [Server.Roster.LoadShaping, Server.Roster.MarketWideData, Server.Roster.DistributorOf(mpan), Server.Roster.SupplierOf(mpan)];
        var other = Server.Roster.Suppliers.First(s => s != Server.Roster.SupplierOf(mpan));
        var clients = recipients.Append(other).Select(Server.ClientOf).ToList();
        try
        {
            foreach (var client in clients) await DrainAsync(client);
            var transactionId = (await Server.PublishAsync(0, number))[0];

            foreach (var client in clients.Take(4))
            {
                var fetched = Assert.Single(await FetchAsync(client, wait: 5));
                Assert.Equal(transactionId, fetched!["transactionID"]!.GetValue<string>());
                Assert.Equal(1, fetched["deliveryCount"]!.GetValue<int>());
                var d0 = fetched["message"]!["payload"]!["CommonBlock"]!["D0"]!;
                Assert.Equal(transactionId, d0["transactionID"]!.GetValue<string>());
                Assert.Equal(mpan.ToString(System.Globalization.CultureInfo.InvariantCulture), fetched["message"]!["payload"]!["CommonBlock"]!["M0"]!["MPANCore"]!.GetValue<string>());
                Assert.Equal(1, await AckAsync(client, [fetched["receipt"]!.GetValue<string>()]));
                Assert.Empty(await FetchAsync(client));
            }

            Assert.Empty(await FetchAsync(clients[4]));
        }
        finally
        {
            foreach (var client in clients) client.Dispose();
        }
    }

    [Fact]
    public async Task An_unacknowledged_message_comes_back_after_the_visibility_timeout()
    {
        using var lss = Server.ClientOf(Server.Roster.LoadShaping);
        await DrainAsync(lss);
        var transactionId = (await Server.PublishAsync(0, 202))[0];

        var first = Assert.Single(await FetchAsync(lss, wait: 5));
        Assert.Empty(await FetchAsync(lss)); // leased: invisible
        var again = Assert.Single(await FetchAsync(lss, wait: 10));
        Assert.Equal(transactionId, again!["transactionID"]!.GetValue<string>());
        Assert.Equal(2, again["deliveryCount"]!.GetValue<int>());
        Assert.Equal(1, await AckAsync(lss, [again["receipt"]!.GetValue<string>()]));
        Assert.NotNull(first);
    }

    [Fact]
    public async Task Fetch_parameters_out_of_range_and_unknown_channels_are_problem_details()
    {
        using var lss = Server.ClientOf(Server.Roster.LoadShaping);
        using var tooMany = await lss.GetAsync(new Uri("/native/v1/channels/IF-021/messages?max=100000", UriKind.Relative));
        await ProblemAssert.IsProblemAsync(tooMany, HttpStatusCode.BadRequest, "bad-fetch-parameters");
        using var unknown = await lss.GetAsync(new Uri("/native/v1/channels/IF-998/messages", UriKind.Relative));
        await ProblemAssert.IsProblemAsync(unknown, HttpStatusCode.NotFound, "unknown-channel");
        using var malformed = await lss.PostAsync(new Uri("/native/v1/channels/IF-021/acknowledgements", UriKind.Relative), BackboneServer.Json("{\"receipts\":7}"u8.ToArray()));
        await ProblemAssert.IsProblemAsync(malformed, HttpStatusCode.BadRequest, "malformed-acknowledgement");
    }
}
