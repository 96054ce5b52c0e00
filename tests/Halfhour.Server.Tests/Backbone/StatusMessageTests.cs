using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Halfhour.Broker.Audit;
using Halfhour.Market.Participants;

namespace Halfhour.Server.Tests.Backbone;

/// <summary>The DIP's status messages: a recipient's word about a message it received goes back to that message's sender.</summary>
[Collection(PushCollection.Name)]
public sealed class StatusMessageTests(PushServerFixture fixture)
{
    private BackboneServer Server => fixture.Server;

    private static string Now => DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", CultureInfo.InvariantCulture);

    /// <summary>A status message as a participant sends it: every field present, null where it does not apply.</summary>
    private static JsonObject Status(string transactionId, string senderId, string? text = "MSG0101 Rejected: consumption implausible for the meter", string? reference = null,
        string? recipientId = null) => new()
    {
        ["transactionID"] = transactionId,
        ["senderUniqueReference"] = reference,
        ["correlationID"] = "CI-20261127-status-test",
        ["sentTimestamp"] = Now,
        ["senderID"] = senderId,
        ["recipientID"] = recipientId,
        ["DIPConnectionProviderID"] = null,
        ["message"] = text,
        ["help"] = "Check the register reads and send a replacement.",
        ["serviceTicketURL"] = null,
    };

    private static async Task<(HttpStatusCode Status, string Text)> SendAsync(HttpClient client, params JsonNode[] statuses)
    {
        using var response = await client.PostAsync(new Uri("/statusmessage", UriKind.Relative), BackboneServer.Json(Encoding.UTF8.GetBytes(new JsonArray(statuses).ToJsonString())));
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static JsonArray Results(string text) => JsonNode.Parse(text)!["messageArray"]!.AsArray();

    private static ByteArrayContent Request(object request) => BackboneServer.Json(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(request)));

    private static object Period(string? transactionId = null) => new
    {
        datetimeFrom = DateTimeOffset.UtcNow.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", CultureInfo.InvariantCulture),
        datetimeTo = DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", CultureInfo.InvariantCulture),
        transactionID = transactionId,
        senderUniqueReference = (string?)null,
        correlationID = (string?)null,
    };

    /// <summary>The transaction IDs of the status messages the replay of <paramref name="dipId"/>'s status channel returns, every page.</summary>
    private async Task<List<string>> ReplayAsync(string dipId, object request, List<HttpStatusCode>? statuses = null)
    {
        using var client = Server.ClientOf(dipId);
        var ids = new List<string>();
        string? token = null;
        do
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, new Uri($"/statusmessage/replay/{dipId}", UriKind.Relative)) { Content = Request(request) };
            if (token is not null) message.Headers.Add("X-Continuation-Token", token);
            using var response = await client.SendAsync(message);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.PartialContent, text);
            statuses?.Add(response.StatusCode);
            ids.AddRange(JsonNode.Parse(text)!.AsArray().Select(m => m!["transactionID"]!.GetValue<string>()));
            token = response.StatusCode == HttpStatusCode.PartialContent ? response.Headers.GetValues("X-Continuation-Token").Single() : null;
        }
        while (token is not null);
        return ids;
    }

    /// <summary>Publishes a consumption message from the first data service (a number from <paramref name="from"/> on); its sender, supplier, distributor and transaction ID.</summary>
    private async Task<(string Sender, string Supplier, string Distributor, string TransactionId)> PublishAsync(int from, int day)
    {
        var sender = Server.Roster.DataServices[0];
        var number = Enumerable.Range(from, 400).Select(n => (long)n).First(n => Server.SenderOf(n) == sender);
        var mpan = Server.Builder.MpanOf(number);
        return (sender, Server.Roster.SupplierOf(mpan), Server.Roster.DistributorOf(mpan), (await Server.PublishAsync(day, number)).Single());
    }

    private static async Task RemoveWebhookAsync(HttpClient client, string dipId)
    {
        using var removed = await client.DeleteAsync(new Uri($"/statusmessage/config/{dipId}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
    }

    [Fact]
    public async Task A_recipients_rejection_reaches_the_sender_by_pull_and_by_webhook_with_the_references_of_the_rejected_message()
    {
        var (sender, supplier, distributor, transactionId) = await PublishAsync(7000, day: 0);

        using var supplierClient = Server.ClientOf(supplier);
        var reference = $"S-IF-021-{supplier}-SUP-20261127-rej1";
        var (status, text) = await SendAsync(supplierClient, Status(transactionId, supplier, reference: reference));
        Assert.True(status == HttpStatusCode.Created, text);
        var result = Results(text).Single()!;
        Assert.Equal("MSG0000 - Success", result["message"]!.GetValue<string>());
        Assert.Equal(transactionId, result["transactionID"]!.GetValue<string>());
        Assert.Equal(sender, result["recipientID"]!.GetValue<string>());
        Assert.Equal(supplier, result["senderID"]!.GetValue<string>());

        // The sender pulls it from its status channel, recipient filled in, and acknowledges it (with anything older there).
        using var senderClient = Server.ClientOf(sender);
        JsonNode? delivered = null;
        for (var attempt = 0; delivered is null && attempt < 10; attempt++)
        {
            var pulled = await PullTests.FetchAsync(senderClient, "statusmessage", wait: 5);
            await PullTests.AckAsync(senderClient, pulled.Select(m => m!["receipt"]!.GetValue<string>()), "statusmessage");
            delivered = pulled.SingleOrDefault(m => m!["transactionID"]!.GetValue<string>() == transactionId);
        }

        Assert.NotNull(delivered);
        var pulledStatus = delivered["message"]!;
        Assert.Equal(supplier, pulledStatus["senderID"]!.GetValue<string>());
        Assert.Equal(sender, pulledStatus["recipientID"]!.GetValue<string>());
        Assert.Equal(reference, pulledStatus["senderUniqueReference"]!.GetValue<string>());
        Assert.Equal("MSG0101 Rejected: consumption implausible for the meter", pulledStatus["message"]!.GetValue<string>());
        Assert.Null(pulledStatus["serviceTicketURL"]);
        Assert.Equal(0, await PullTests.AckAsync(senderClient, [delivered["receipt"]!.GetValue<string>()], "statusmessage")); // taken already

        // With a status webhook, the next status (from the distributor, another recipient) is pushed, signed.
        await using var receiver = await WebhookReceiver.StartAsync(Server.Server.Sandbox.BackboneCertificate);
        using (var configured = await senderClient.PostAsync(new Uri($"/statusmessage/config/{sender}", UriKind.Relative),
                   Request(new { callbackURL = receiver.Url.ToString(), maxMessageCount = 10 })))
        {
            Assert.Equal(HttpStatusCode.Created, configured.StatusCode);
        }

        using var distributorClient = Server.ClientOf(distributor);
        (status, text) = await SendAsync(distributorClient, Status(transactionId, distributor, "MSG0102 Rejected: MPAN not on our network", recipientId: sender));
        Assert.True(status == HttpStatusCode.Created, text);
        await receiver.WaitForAsync([transactionId], TimeSpan.FromSeconds(20));
        var pushed = Assert.Single(receiver.Taken).Status!;
        Assert.Equal(distributor, pushed["senderID"]!.GetValue<string>());
        Assert.Equal(sender, pushed["recipientID"]!.GetValue<string>());
        Assert.Equal("MSG0102 Rejected: MPAN not on our network", pushed["message"]!.GetValue<string>());
        Assert.Equal(0, receiver.BadSignatures);
        Assert.Empty(await PullTests.FetchAsync(senderClient, "statusmessage"));

        var (entries, _) = await Server.Host.Current!.Audit.ReadAsync(0, 16 << 20);
        Assert.Contains(entries, e => e.Action == AuditAction.StatusSent && e.Actor == supplier && e.Detail.Contains(transactionId, StringComparison.Ordinal));
        Assert.Contains(entries, e => e.Action == AuditAction.ConfigurationChanged && e.Actor == sender && e.Subject == "statusmessage");

        await RemoveWebhookAsync(senderClient, sender);
    }

    [Fact]
    public async Task Status_from_a_participant_the_message_was_not_routed_to_or_about_an_unknown_message_is_refused_and_nothing_is_stored()
    {
        var (sender, supplier, _, transactionId) = await PublishAsync(7100, day: 1);
        var stranger = Server.Roster.Suppliers.First(s => s != supplier);

        using var strangerClient = Server.ClientOf(stranger);
        var (status, text) = await SendAsync(strangerClient, Status(transactionId, stranger));
        Assert.True(status == HttpStatusCode.Forbidden, text);
        Assert.Equal("MSG1013 - Not a Recipient", Results(text).Single()!["message"]!.GetValue<string>());
        Assert.Contains(stranger, Results(text).Single()!["help"]!.GetValue<string>(), StringComparison.Ordinal);

        using var supplierClient = Server.ClientOf(supplier);
        var unknown = transactionId[..^13] + "9999999999999";
        (status, text) = await SendAsync(supplierClient, Status(transactionId, supplier), Status(unknown, supplier));
        Assert.True(status == HttpStatusCode.NotFound, text);
        Assert.Equal(["MSG1014 - Batch Refused - Resend", "MSG1012 - Unknown Transaction"], Results(text).Select(r => r!["message"]!.GetValue<string>()));

        (status, text) = await SendAsync(supplierClient, Status("T-not-one-of-ours", supplier));
        Assert.True(status == HttpStatusCode.NotFound, text);

        // Another participant's name as sender, the wrong recipient, a bad timestamp: 400 with the field named.
        (status, text) = await SendAsync(supplierClient, Status(transactionId, stranger));
        Assert.True(status == HttpStatusCode.BadRequest, text);
        Assert.StartsWith("MSG1007", Results(text).Single()!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        (status, text) = await SendAsync(supplierClient, Status(transactionId, supplier, recipientId: stranger));
        Assert.True(status == HttpStatusCode.BadRequest, text);
        Assert.StartsWith("MSG1010", Results(text).Single()!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var late = Status(transactionId, supplier);
        late["sentTimestamp"] = "yesterday";
        (status, text) = await SendAsync(supplierClient, late);
        Assert.True(status == HttpStatusCode.BadRequest, text);
        Assert.StartsWith("/sentTimestamp", Results(text).Single()!["help"]!.GetValue<string>(), StringComparison.Ordinal);

        // Nothing of any of that reached the sender.
        await Server.Host.Current!.Indexer.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Empty(await ReplayAsync(sender, Period(transactionId)));
    }

    [Fact]
    public async Task A_body_that_is_not_an_array_of_status_messages_is_a_problem_detail()
    {
        var lss = Server.Roster.LoadShaping;
        using var client = Server.ClientOf(lss);
        async Task RefusedAsync(string body, HttpStatusCode code, string reason)
        {
            using var response = await client.PostAsync(new Uri("/statusmessage", UriKind.Relative), BackboneServer.Json(Encoding.UTF8.GetBytes(body)));
            await ProblemAssert.IsProblemAsync(response, code, reason);
        }

        await RefusedAsync("{}", HttpStatusCode.BadRequest, "malformed-status-messages");
        await RefusedAsync("[]", HttpStatusCode.BadRequest, "malformed-status-messages");
        await RefusedAsync("[{\"transactionID\": \"T-x\"", HttpStatusCode.BadRequest, "malformed-status-messages");
        await RefusedAsync("[null]", HttpStatusCode.BadRequest, "malformed-status-messages");

        var missing = Status("T-IF-021-x", lss);
        missing.Remove("help");
        var detail = await ProblemOfAsync(client, new JsonArray(missing));
        Assert.Contains("help", detail, StringComparison.Ordinal);
        var extra = Status("T-IF-021-x", lss);
        extra["colour"] = "red";
        detail = await ProblemOfAsync(client, new JsonArray(extra));
        Assert.Contains("colour", detail, StringComparison.Ordinal);
        var wrongType = Status("T-IF-021-x", lss);
        wrongType["message"] = 42;
        await ProblemOfAsync(client, new JsonArray(wrongType));

        var many = new JsonArray([.. Enumerable.Range(0, 1001).Select(_ => (JsonNode)Status("T-IF-021-x", lss))]);
        using var tooMany = await client.PostAsync(new Uri("/statusmessage", UriKind.Relative), BackboneServer.Json(Encoding.UTF8.GetBytes(many.ToJsonString())));
        await ProblemAssert.IsProblemAsync(tooMany, HttpStatusCode.RequestEntityTooLarge, "too-many-messages");

        static async Task<string> ProblemOfAsync(HttpClient client, JsonArray body)
        {
            using var response = await client.PostAsync(new Uri("/statusmessage", UriKind.Relative), BackboneServer.Json(Encoding.UTF8.GetBytes(body.ToJsonString())));
            return await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "malformed-status-messages");
        }
    }

    [Fact]
    public async Task Status_messages_replay_in_pages_and_requeue_to_the_status_webhook()
    {
        var sender = Server.Roster.DataServices[1];
        var numbers = Enumerable.Range(7200, 400).Select(n => (long)n).Where(n => Server.SenderOf(n) == sender).Take(3).ToArray();
        var published = await Server.PublishAsync(0, numbers);
        var lss = Server.Roster.LoadShaping; // a recipient of every consumption message
        using var lssClient = Server.ClientOf(lss);
        var (status, text) = await SendAsync(lssClient, [.. published.Select(id => (JsonNode)Status(id, lss, "MSG0201 Rejected by load shaping"))]);
        Assert.True(status == HttpStatusCode.Created, text);

        await Server.Host.Current!.Indexer.WaitUntilCaughtUpAsync(CancellationToken.None); // replay reads what is fanned out so far
        var pages = new List<HttpStatusCode>();
        Assert.Equal(published.Order(), (await ReplayAsync(sender, Period(), pages)).Order()); // inbox order: per partition, not across
        Assert.Equal([HttpStatusCode.PartialContent, HttpStatusCode.OK], pages); // pages of two
        Assert.Equal([published[1]], await ReplayAsync(sender, Period(published[1])));
        Assert.Empty(await ReplayAsync(lss, Period())); // the status sender has none of its own

        using var senderClient = Server.ClientOf(sender);
        using (var noPeriod = await senderClient.PostAsync(new Uri($"/statusmessage/replay/{sender}", UriKind.Relative), Request(new { transactionID = published[0] })))
        {
            await ProblemAssert.IsProblemAsync(noPeriod, HttpStatusCode.BadRequest, "invalid-message-request");
        }

        using (var other = await lssClient.PostAsync(new Uri($"/statusmessage/replay/{sender}", UriKind.Relative), Request(Period())))
        {
            await ProblemAssert.IsProblemAsync(other, HttpStatusCode.Forbidden, "other-recipient");
        }

        using (var noWebhook = await senderClient.PostAsync(new Uri($"/statusmessage/requeue/{sender}", UriKind.Relative), Request(Period())))
        {
            await ProblemAssert.IsProblemAsync(noWebhook, HttpStatusCode.BadRequest, "no-webhook");
        }

        await using var receiver = await WebhookReceiver.StartAsync(Server.Server.Sandbox.BackboneCertificate);
        using (var configured = await senderClient.PostAsync(new Uri($"/statusmessage/config/{sender}", UriKind.Relative), Request(new { callbackURL = receiver.Url.ToString() })))
        {
            Assert.Equal(HttpStatusCode.Created, configured.StatusCode);
        }

        await receiver.WaitForAsync(published, TimeSpan.FromSeconds(20)); // the live push first
        using var started = await senderClient.PostAsync(new Uri($"/statusmessage/requeue/{sender}", UriKind.Relative), Request(Period()));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var requeueId = JsonSerializer.Deserialize<string>(await started.Content.ReadAsStringAsync())!;
        var progress = await ReplayTests.FinishedRequeueAsync(senderClient, $"/statusmessage/requeueStatus/{sender}?requeue-id={requeueId}");
        Assert.Equal("Completed", progress["status"]!.GetValue<string>());
        Assert.Equal(3, progress["totalTransactions"]!.GetValue<long>());
        Assert.Equal(published.Concat(published).Order(), receiver.Taken.Select(t => t.TransactionId).Order()); // live, then requeued
        Assert.All(receiver.Taken, t => Assert.Equal(lss, t.Status!["senderID"]!.GetValue<string>()));

        // Requeues of status messages are their own: the dip-channel's requeueStatus of the same recipient knows nothing of them.
        using (var channelStatus = await senderClient.GetAsync(new Uri($"/dip-channel/IF-021/requeueStatus/{sender}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, channelStatus.StatusCode);
        }

        await RemoveWebhookAsync(senderClient, sender);
    }

    [Fact]
    public async Task The_OpenAPI_document_says_the_native_channel_statusmessage_carries_status_messages()
    {
        using var client = Server.ClientOf(Server.Roster.LoadShaping);
        var document = JsonNode.Parse(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative)))!;
        foreach (var (path, method) in new[] { ("/native/v1/channels/{id}/messages", "get"), ("/native/v1/channels/{id}/acknowledgements", "post") })
        {
            var description = document["paths"]![path]![method]!["description"]!.GetValue<string>();
            Assert.Contains("'statusmessage'", description, StringComparison.Ordinal);
        }

        Assert.Contains("/statusmessage", document["info"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain(document["paths"]!.AsObject(), p => p.Key.StartsWith("/statusmessage", StringComparison.Ordinal)); // the DIP's own paths stay in the DIP's document
    }

    [Fact]
    public async Task Environments_are_isolated_the_same_DIP_ID_in_UIT_cannot_send_status_about_a_DEV_message()
    {
        var (sender, supplier, _, transactionId) = await PublishAsync(7150, day: 2);
        foreach (var p in Server.Roster.Participants(MarketEnvironment.UIT).Where(p => p.DipId == supplier || p.DipId == sender)) Server.Register(p);

        using var uitSupplier = Server.ClientOf(supplier, MarketEnvironment.UIT);
        var (status, text) = await SendAsync(uitSupplier, Status(transactionId, supplier));
        Assert.True(status == HttpStatusCode.NotFound, text);
        Assert.StartsWith("MSG1012", Results(text).Single()!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        // A status sent in DEV stays in DEV: the sender's UIT status channel is empty.
        using var devSupplier = Server.ClientOf(supplier);
        (status, text) = await SendAsync(devSupplier, Status(transactionId, supplier));
        Assert.True(status == HttpStatusCode.Created, text);
        await Server.Host.Current!.Indexer.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal([transactionId], await ReplayAsync(sender, Period(transactionId)));
        using var uitSender = Server.ClientOf(sender, MarketEnvironment.UIT);
        Assert.Empty(await PullTests.FetchAsync(uitSender, "statusmessage", wait: 1));
        using var uitReplay = await uitSender.PostAsync(new Uri($"/statusmessage/replay/{sender}", UriKind.Relative), Request(Period()));
        Assert.Equal("[]", await uitReplay.Content.ReadAsStringAsync());
    }
}
