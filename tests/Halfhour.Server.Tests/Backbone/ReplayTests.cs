using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Halfhour.Server.Tests.Backbone;

[Collection(PushCollection.Name)]
public sealed class ReplayTests(PushServerFixture fixture)
{
    private BackboneServer Server => fixture.Server;

    private static ByteArrayContent Request(object request) => BackboneServer.Json(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(request)));

    private static object ByMpan(string mpan) => new { datetimeFrom = (string?)null, datetimeTo = (string?)null, eventCode = (string?)null, MPAN = mpan, version = "011" };

    /// <summary>Follows a requeue by its requeueStatus path until it is no longer Processing; its last status.</summary>
    internal static async Task<JsonNode> FinishedRequeueAsync(HttpClient client, string statusPath)
    {
        JsonNode? status = null;
        for (var i = 0; i < 100; i++)
        {
            using var response = await client.GetAsync(new Uri(statusPath, UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray().Single();
            if (status!["status"]!.GetValue<string>() != "Processing") break;
            await Task.Delay(100);
        }

        return status!;
    }

    [Fact]
    public async Task Replay_pages_the_callers_own_messages_with_continuation_tokens_marked_as_replayed()
    {
        const long number = 4100;
        var mpan = Server.Builder.MpanOf(number).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var published = new List<string>();
        for (var day = 10; day < 15; day++) published.AddRange(await Server.PublishAsync(day, number));

        var lss = Server.Roster.LoadShaping;
        using var client = Server.ClientOf(lss);
        var replayed = new List<string>();
        string? token = null;
        var statuses = new List<HttpStatusCode>();
        do
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"/dip-channel/IF-021/replay/{lss}", UriKind.Relative)) { Content = Request(ByMpan(mpan)) };
            if (token is not null) request.Headers.Add("X-Continuation-Token", token);
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            statuses.Add(response.StatusCode);
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.PartialContent, text);
            foreach (var message in JsonNode.Parse(text)!.AsArray())
            {
                var d0 = message!["payload"]!["CommonBlock"]!["D0"]!;
                Assert.True(d0["replayIndicator"]!.GetValue<bool>());
                replayed.Add(d0["transactionID"]!.GetValue<string>());
            }

            token = response.StatusCode == HttpStatusCode.PartialContent ? response.Headers.GetValues("X-Continuation-Token").Single() : null;
            Assert.True(statuses.Count < 10, "replay does not end");
        }
        while (token is not null);

        Assert.Equal(published, replayed);
        Assert.Equal(HttpStatusCode.PartialContent, statuses[0]);
        Assert.Equal(HttpStatusCode.OK, statuses[^1]);

        var stranger = Server.Roster.Suppliers.First(s => s != Server.Roster.SupplierOf(long.Parse(mpan, System.Globalization.CultureInfo.InvariantCulture)));
        using var strangerClient = Server.ClientOf(stranger);
        using var none = await strangerClient.PostAsync(new Uri($"/dip-channel/IF-021/replay/{stranger}", UriKind.Relative),
            Request(new { transactionIDs = published, version = "011" }));
        Assert.Equal(HttpStatusCode.OK, none.StatusCode);
        Assert.Empty(JsonNode.Parse(await none.Content.ReadAsStringAsync())!.AsArray());
    }

    [Fact]
    public async Task Replay_refuses_another_recipients_channel_a_forged_token_and_a_bad_request()
    {
        var lss = Server.Roster.LoadShaping;
        using var client = Server.ClientOf(lss);
        using var other = await client.PostAsync(new Uri($"/dip-channel/IF-021/replay/{Server.Roster.MarketWideData}", UriKind.Relative), Request(ByMpan("1000000000005")));
        await ProblemAssert.IsProblemAsync(other, HttpStatusCode.Forbidden, "other-recipient");

        using var forged = new HttpRequestMessage(HttpMethod.Post, new Uri($"/dip-channel/IF-021/replay/{lss}", UriKind.Relative)) { Content = Request(ByMpan("1000000000005")) };
        forged.Headers.Add("X-Continuation-Token", "from-somewhere-else");
        using var forgedResponse = await client.SendAsync(forged);
        await ProblemAssert.IsProblemAsync(forgedResponse, HttpStatusCode.BadRequest, "bad-continuation-token");

        using var badDate = await client.PostAsync(new Uri($"/dip-channel/IF-021/replay/{lss}", UriKind.Relative), Request(new { datetimeFrom = "yesterday", version = "011" }));
        await ProblemAssert.IsProblemAsync(badDate, HttpStatusCode.BadRequest, "invalid-message-request");
    }

    [Fact]
    public async Task Requeue_re_pushes_the_matching_messages_to_the_webhook_one_at_a_time_and_reports_its_progress()
    {
        var taken = Server.Roster.DistributorOf(Server.Builder.MpanOf(3001));
        var number = Enumerable.Range(4200, 100).Select(n => (long)n).First(n => Server.Roster.DistributorOf(Server.Builder.MpanOf(n)) != taken);
        var distributor = Server.Roster.DistributorOf(Server.Builder.MpanOf(number));
        var mpan = Server.Builder.MpanOf(number).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var client = Server.ClientOf(distributor);

        using (var noWebhook = await client.PostAsync(new Uri($"/dip-channel/IF-021/requeue/{distributor}", UriKind.Relative), Request(ByMpan(mpan))))
        {
            await ProblemAssert.IsProblemAsync(noWebhook, HttpStatusCode.BadRequest, "no-webhook");
        }

        var published = new List<string>();
        for (var day = 20; day < 23; day++) published.AddRange(await Server.PublishAsync(day, number));

        await using var receiver = await WebhookReceiver.StartAsync(Server.Server.Sandbox.BackboneCertificate);
        receiver.Behaviour = async (_, messages) =>
        {
            if (messages.Any(m => m.Replay)) await Task.Delay(300); // slow enough that a second requeue finds the first running
            return null;
        };
        using (var configured = await PushTests.ConfigureAsync(client, distributor, new { callbackURL = receiver.Url.ToString(), maxMessageCount = 1 }))
        {
            Assert.Equal(HttpStatusCode.Created, configured.StatusCode);
        }

        await receiver.WaitForAsync(published, TimeSpan.FromSeconds(20)); // the live push first
        using var started = await client.PostAsync(new Uri($"/dip-channel/IF-021/requeue/{distributor}", UriKind.Relative), Request(ByMpan(mpan)));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var requeueId = JsonSerializer.Deserialize<string>(await started.Content.ReadAsStringAsync())!;

        using (var second = await client.PostAsync(new Uri($"/dip-channel/IF-021/requeue/{distributor}", UriKind.Relative), Request(ByMpan(mpan))))
        {
            await ProblemAssert.IsProblemAsync(second, HttpStatusCode.TooManyRequests, "requeue-running");
        }

        var status = await FinishedRequeueAsync(client, $"/dip-channel/IF-021/requeueStatus/{distributor}?requeue-id={requeueId}");
        Assert.Equal("Completed", status["status"]!.GetValue<string>());
        Assert.Equal(3, status["totalTransactions"]!.GetValue<long>());
        Assert.Equal(3, status["processedTransactions"]!.GetValue<long>());
        Assert.Equal(100, status["percentComplete"]!.GetValue<double>());
        Assert.Equal(published, receiver.Taken.Where(t => t.Replay).Select(t => t.TransactionId));

        using var removed = await client.DeleteAsync(new Uri($"/dip-channel/IF-021/pubconfig/{distributor}", UriKind.Relative));
        using var nothing = await Server.ClientOf(Server.Roster.LoadShaping).GetAsync(new Uri($"/dip-channel/IF-021/requeueStatus/{Server.Roster.LoadShaping}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, nothing.StatusCode);
    }
}
