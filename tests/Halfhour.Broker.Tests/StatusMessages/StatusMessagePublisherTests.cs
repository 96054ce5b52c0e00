using System.Text;
using System.Text.Json.Nodes;
using Halfhour.Broker.Audit;
using Halfhour.Broker.Replay;
using Halfhour.Broker.StatusMessages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Tests.Publishing;
using Halfhour.Broker.Tests.Support;
using Halfhour.Broker.Topics;
using Halfhour.Market.Participants;
using Halfhour.Market.Validation;

namespace Halfhour.Broker.Tests.StatusMessages;

public abstract class StatusMessagePublisherTests(EngineKind engine)
{
    /// <summary>A status message about <paramref name="transactionId"/> from <paramref name="senderId"/>, as the server hands it over.</summary>
    internal static StatusMessage Status(string transactionId, string senderId, string text = "MSG0101 Rejected", string? recipientId = null, string? reference = null)
    {
        var body = new JsonObject
        {
            ["transactionID"] = transactionId, ["senderUniqueReference"] = reference, ["correlationID"] = "CI-1", ["sentTimestamp"] = "2026-11-27T09:00:00+00:00",
            ["senderID"] = senderId, ["recipientID"] = recipientId, ["DIPConnectionProviderID"] = null, ["message"] = text, ["help"] = null, ["serviceTicketURL"] = null,
        };
        return new StatusMessage(transactionId, senderId, recipientId, reference, "CI-1", Encoding.UTF8.GetBytes(body.ToJsonString()));
    }

    /// <summary>Publishes one consumption message; its sender, its supplier and its transaction ID.</summary>
    private static async Task<(Participant Sender, Participant Supplier, string TransactionId)> PublishAsync(BrokerFixture f, long number)
    {
        var sender = f.SenderOf(number);
        var result = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(number));
        Assert.Equal(201, result.StatusCode);
        return (sender, f.Participant(f.Roster.SupplierOf(f.Builder.MpanOf(number))), result.Messages[0].TransactionId!);
    }

    private static async Task CopyLastStatusAsync(IEventStore store)
    {
        var topic = TopicLayout.InterfaceTopic(BrokerFixture.Environment, TopicLayout.StatusChannel);
        for (var partition = 0; partition < TopicLayout.DefaultPartitions; partition++)
        {
            var range = await store.RangeAsync(topic, partition);
            if (range.Next > range.Start)
            {
                var record = await StoredEventReader.ReadOneAsync(store, topic, partition, range.Next - 1, CancellationToken.None);
                await store.AppendAsync([new EventWrite(topic, partition, default, record!)]);
                return;
            }
        }

        Assert.Fail("No status message is stored.");
    }

    [Fact]
    public async Task A_recipients_status_reaches_the_sender_on_its_status_channel_addressed_to_it_even_when_a_restart_came_before_its_fan_out()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var (sender, supplier, transactionId) = await PublishAsync(f, 1);

        var result = await f.Backbone.StatusMessages.PublishAsync(supplier, [Status(transactionId, supplier.DipId)]);
        Assert.Equal(201, result.StatusCode);
        Assert.Equal(sender.DipId, result.Messages[0].RecipientId);

        var status = f.Backbone.Subscription(BrokerFixture.Environment, sender.DipId, TopicLayout.StatusChannel);
        var got = Assert.Single(await PublishAndDeliverTests.FetchAllAsync(status, 1));
        Assert.Equal(transactionId, got.TransactionId);
        var delivered = JsonNode.Parse(got.Message)!;
        Assert.Equal(sender.DipId, (string?)delivered["recipientID"]);
        Assert.Equal(supplier.DipId, (string?)delivered["senderID"]);
        Assert.Equal("MSG0101 Rejected", (string?)delivered["message"]);
        await status.AckAsync([got.Receipt], CancellationToken.None);

        // Stored but not yet fanned out when the backbone stopped (a crash between the two): the restarted backbone
        // follows the status topic again and delivers it. The record left behind is a copy of the one above.
        await f.RestartAsync(whileDown: CopyLastStatusAsync);
        status = f.Backbone.Subscription(BrokerFixture.Environment, sender.DipId, TopicLayout.StatusChannel);
        var again = Assert.Single(await PublishAndDeliverTests.FetchAllAsync(status, 1));
        Assert.Equal(transactionId, again.TransactionId);
        await status.AckAsync([again.Receipt], CancellationToken.None);

        var lss = f.Participant(f.Roster.LoadShaping);
        Assert.Equal(201, (await f.Backbone.StatusMessages.PublishAsync(lss, [Status(transactionId, lss.DipId, "MSG0202 Shape rejected")])).StatusCode);
        var after = Assert.Single(await PublishAndDeliverTests.FetchAllAsync(status, 1));
        Assert.Equal("MSG0202 Shape rejected", (string?)JsonNode.Parse(after.Message)!["message"]);
        Assert.Empty(await status.FetchAsync(10, TimeSpan.FromMilliseconds(300), CancellationToken.None));

        var replay = await f.Backbone.Replays.ReplayAsync(BrokerFixture.Environment, sender.DipId, TopicLayout.StatusChannel,
            new ReplayQuery(null, null, null, null, [transactionId]) { CorrelationId = "CI-1" }, null, 10, CancellationToken.None);
        Assert.Equal(3, replay.Messages.Count);
        Assert.All(replay.Identities, i => Assert.Equal(transactionId, i.TransactionId));

        var (entries, _) = await f.Backbone.Audit.ReadAsync(0, 1 << 20);
        Assert.Equal(2, entries.Count(e => e.Action == AuditAction.StatusSent && e.Detail.Contains(transactionId, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_retried_status_with_a_sender_reference_is_a_duplicate_delivered_once_even_after_a_restart()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var (sender, supplier, transactionId) = await PublishAsync(f, 3);

        var reference = "SUR-3";
        var first = await f.Backbone.StatusMessages.PublishAsync(supplier, [Status(transactionId, supplier.DipId, reference: reference)]);
        Assert.Equal((201, MessageCode.Success), (first.StatusCode, first.Messages[0].Code));

        // A retry, and a batch repeating it beside a new one and beside itself: only the new one is stored.
        var retry = await f.Backbone.StatusMessages.PublishAsync(supplier, [Status(transactionId, supplier.DipId, reference: reference)]);
        Assert.Equal((201, MessageCode.Duplicate), (retry.StatusCode, retry.Messages[0].Code));
        var mixed = await f.Backbone.StatusMessages.PublishAsync(supplier,
            [Status(transactionId, supplier.DipId, reference: reference), Status(transactionId, supplier.DipId, "MSG0102 Second", reference: "SUR-4"),
             Status(transactionId, supplier.DipId, "MSG0102 Second", reference: "SUR-4")]);
        Assert.Equal(201, mixed.StatusCode);
        Assert.Equal([MessageCode.Duplicate, MessageCode.Success, MessageCode.Duplicate], mixed.Messages.Select(m => m.Code));

        var status = f.Backbone.Subscription(BrokerFixture.Environment, sender.DipId, TopicLayout.StatusChannel);
        var got = await PublishAndDeliverTests.FetchAllAsync(status, 2);
        Assert.Equal(["MSG0101 Rejected", "MSG0102 Second"], got.Select(d => (string?)JsonNode.Parse(d.Message)!["message"]).Order());
        await status.AckAsync([.. got.Select(d => d.Receipt)], CancellationToken.None);
        Assert.Empty(await status.FetchAsync(10, TimeSpan.FromMilliseconds(300), CancellationToken.None));

        // The references are restored from the stored statuses on start.
        await f.RestartAsync();
        var afterRestart = await f.Backbone.StatusMessages.PublishAsync(supplier, [Status(transactionId, supplier.DipId, reference: "SUR-4")]);
        Assert.Equal((201, MessageCode.Duplicate), (afterRestart.StatusCode, afterRestart.Messages[0].Code));
        status = f.Backbone.Subscription(BrokerFixture.Environment, sender.DipId, TopicLayout.StatusChannel);
        Assert.Empty(await status.FetchAsync(10, TimeSpan.FromMilliseconds(300), CancellationToken.None));
    }

    [Fact]
    public async Task Status_from_a_non_recipient_or_about_an_unknown_or_crafted_transaction_is_refused_and_the_batch_stores_nothing()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var (sender, supplier, transactionId) = await PublishAsync(f, 2);
        var stranger = f.Participant(f.Roster.Suppliers.First(s => s != supplier.DipId));
        await f.Backbone.Indexer.WaitUntilCaughtUpAsync(CancellationToken.None); // so the inboxes exist to be aimed at

        var notRouted = await f.Backbone.StatusMessages.PublishAsync(stranger, [Status(transactionId, stranger.DipId)]);
        Assert.Equal((403, MessageCode.NotARecipient), (notRouted.StatusCode, notRouted.Messages[0].Code));

        // An ID of the right form whose place holds another message, or whose interface part names an inbox topic.
        var elsewhere = transactionId.Replace(sender.DipId, stranger.DipId, StringComparison.Ordinal);
        var intoInbox = $"T-inbox.{supplier.DipId}.IF-021-{sender.DipId}-SDS-20261127-0000000000000000";
        foreach (var id in new[] { elsewhere, intoInbox, transactionId[..^13] + "9999999999999", "nonsense" })
        {
            var unknown = await f.Backbone.StatusMessages.PublishAsync(supplier, [Status(transactionId, supplier.DipId), Status(id, supplier.DipId)]);
            Assert.Equal(404, unknown.StatusCode);
            Assert.Equal([MessageCode.BatchRefused, MessageCode.UnknownTransaction], unknown.Messages.Select(m => m.Code));
        }

        var otherSender = await f.Backbone.StatusMessages.PublishAsync(supplier, [Status(transactionId, stranger.DipId)]);
        Assert.Equal((400, MessageCode.SenderMismatch), (otherSender.StatusCode, otherSender.Messages[0].Code));
        var otherRecipient = await f.Backbone.StatusMessages.PublishAsync(supplier, [Status(transactionId, supplier.DipId, recipientId: stranger.DipId)]);
        Assert.Equal((400, MessageCode.InvalidRecipient), (otherRecipient.StatusCode, otherRecipient.Messages[0].Code));
        var refusedByServer = Status(transactionId, supplier.DipId) with { Refusal = ValidationResult.Fail(MessageCode.SchemaFailure, "/help", "schema:length", "too long") };
        var mixed = await f.Backbone.StatusMessages.PublishAsync(supplier, [Status(transactionId, supplier.DipId), refusedByServer, Status(transactionId, stranger.DipId)]);
        Assert.Equal(400, mixed.StatusCode);
        Assert.Equal([MessageCode.BatchRefused, MessageCode.SchemaFailure, MessageCode.SenderMismatch], mixed.Messages.Select(m => m.Code));

        var topics = await f.Backbone.Replays.ReadAsync(BrokerFixture.Environment, TopicLayout.StatusChannel, 0, 0, CancellationToken.None);
        Assert.Null(topics);
        Assert.Empty(await f.Backbone.Subscription(BrokerFixture.Environment, sender.DipId, TopicLayout.StatusChannel).FetchAsync(10, TimeSpan.FromMilliseconds(300), CancellationToken.None));
    }
}

public sealed class StatusMessagePublisherTestsOnEmbedded() : StatusMessagePublisherTests(EngineKind.Embedded);

public sealed class StatusMessagePublisherTestsOnJetStream() : StatusMessagePublisherTests(EngineKind.JetStream);
