using Halfhour.Broker.Tests.Publishing;
using Halfhour.Broker.Tests.StatusMessages;
using Halfhour.Broker.Tests.Support;
using Halfhour.Broker.Topics;

namespace Halfhour.Broker.Tests.Delivery;

/// <summary>The publish pipeline and the status message publisher hand what they store to the inbox indexer.</summary>
public sealed class InboxHandoffBackboneTests
{
    [Fact]
    public async Task Published_messages_and_status_messages_are_indexed_from_the_hand_off_once_their_topics_are_followed()
    {
        await using var f = await BrokerFixture.StartAsync(EngineKind.Embedded);
        var indexer = f.Backbone.Indexer;
        var numbers = PublishAndDeliverTests.FromOneSender(f, 10);
        var sender = f.SenderOf(numbers[0]);

        // The first batch creates the topic: it is followed only once stored, so it is read back from the store.
        var first = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers[..4]));
        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal(4, indexer.IndexedFromStore);

        var second = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers[4..]));
        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal(6, indexer.IndexedFromMemory);
        Assert.Equal(4, indexer.IndexedFromStore);

        var published = first.Messages.Concat(second.Messages).Select(m => m.TransactionId).Order().ToList();
        var delivered = await PublishAndDeliverTests.FetchAllAsync(f.Backbone.Subscription(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021"), numbers.Length);
        Assert.Equal(published, delivered.Select(d => d.TransactionId).Order());

        // Status messages: the first creates the status topic (read from the store), the next is handed over.
        var supplier = f.Participant(f.Roster.SupplierOf(f.Builder.MpanOf(numbers[0])));
        var about = first.Messages[0].TransactionId!;
        Assert.Equal(201, (await f.Backbone.StatusMessages.PublishAsync(supplier, [StatusMessagePublisherTests.Status(about, supplier.DipId, reference: "status-1")])).StatusCode);
        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal(5, indexer.IndexedFromStore);
        Assert.Equal(201, (await f.Backbone.StatusMessages.PublishAsync(supplier, [StatusMessagePublisherTests.Status(about, supplier.DipId, reference: "status-2")])).StatusCode);
        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal(7, indexer.IndexedFromMemory);
        Assert.Equal(5, indexer.IndexedFromStore);

        var statuses = await PublishAndDeliverTests.FetchAllAsync(f.Backbone.Subscription(BrokerFixture.Environment, sender.DipId, TopicLayout.StatusChannel), 2);
        Assert.All(statuses, s => Assert.Equal(about, s.TransactionId));
    }

    [Fact]
    public async Task Every_recipient_takes_the_one_copy_stamped_when_the_message_was_accepted()
    {
        // The copy is stamped and cached before the indexer is handed the message: a recipient pulling its pointer at once
        // still finds it, rather than reading the stored batch back and stamping its own.
        await using var f = await BrokerFixture.StartAsync(EngineKind.Embedded);
        var numbers = PublishAndDeliverTests.FromOneSender(f, 10);
        var sender = f.SenderOf(numbers[0]);
        var first = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers[..1])); // creates the topic: indexed from the store
        var second = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers[1..])); // handed to the indexer in memory
        var messages = first.Messages.Concat(second.Messages).ToList();

        var copies = new Dictionary<string, byte[]>();
        foreach (var recipient in messages.SelectMany(m => m.Recipients).Distinct())
        {
            var subscription = f.Backbone.Subscription(BrokerFixture.Environment, recipient, "IF-021");
            foreach (var delivery in await PublishAndDeliverTests.FetchAllAsync(subscription, messages.Count(m => m.Recipients.Contains(recipient))))
            {
                if (!copies.TryAdd(delivery.TransactionId, delivery.Message))
                {
                    Assert.Same(copies[delivery.TransactionId], delivery.Message);
                }
            }
        }

        // (Whether the indexer took each message from memory or from the store is a race with its loops' start: either way
        // the recipients take the copy stamped at acceptance.)
        Assert.Equal(numbers.Length, copies.Count);
        Assert.Equal(0, f.Backbone.StampedMessages.Count); // each copy left the cache with its last recipient
    }

    [Fact]
    public async Task A_store_whose_append_offsets_may_name_earlier_records_gets_no_hand_off()
    {
        // JetStream answers a write whose Nats-Msg-Id it has seen with the earlier record's offset, which may carry other recipients.
        await using var f = await BrokerFixture.StartAsync(EngineKind.JetStream);
        Assert.Null(f.Backbone.Indexer.Handoff);
    }
}
