using Halfhour.Broker.Delivery;
using Halfhour.Broker.Messages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Tests.Support;
using Halfhour.Market.Catalogue;
using static Halfhour.Broker.Tests.Support.PointedMessages;

namespace Halfhour.Broker.Tests.Delivery;

/// <summary>
/// What a recipient's inbox reader does with the pointers several indexers write: with two broker nodes, each node's
/// indexer writes a pointer to every message into the recipient's inbox, so each message is pointed to twice, and the
/// two writers' pointers interleave in any order. Every message pointed to must be handed out (at least once), and a
/// message's second pointer should not hand it out again.
/// </summary>
public abstract class RecipientSubscriptionTests(EngineKind engine)
{
    [Fact]
    public async Task A_message_pointed_to_only_after_a_later_message_of_its_partition_is_still_handed_out()
    {
        // Indexer A is ahead and has no pointer to the middle message (it read the partition when that record was not
        // there, or read another record there that the stream's new leader did not keep); indexer B, behind, points to all
        // three. The reader meets B's pointer to the middle message after A's pointer to the last one.
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(store, 3);
        await WritePointersAsync(store, [offsets[0], offsets[2], /* B: */ offsets[0], offsets[1], offsets[2]]);

        var handedOut = await FetchAllAsync(store);

        Assert.Equal(offsets, handedOut.Order());
    }

    [Fact]
    public async Task A_message_pointed_to_twice_is_handed_out_once_whichever_order_the_writers_interleave()
    {
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(store, 4);
        // A and B each point to all four, interleaved: A0 B0 B1 A1 A2 B2 B3 A3.
        await WritePointersAsync(store, [offsets[0], offsets[0], offsets[1], offsets[1], offsets[2], offsets[2], offsets[3], offsets[3]]);

        var handedOut = await FetchAllAsync(store);

        Assert.Equal(offsets, handedOut);
    }

    [Fact]
    public async Task A_pointer_whose_message_could_not_be_read_is_handed_out_by_the_next_fetch()
    {
        await using var home = await EngineHome.CreateAsync(engine);
        await using var inner = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(inner, 2);
        await WritePointersAsync(inner, offsets);
        await using var store = new FailingReads(inner, Topic, failures: 1);
        using var subscription = NewSubscription(store);

        // The first fetch fails reading the message (a store failure, e.g. a leader election); a pull client asks again.
        await Assert.ThrowsAsync<IOException>(() => subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None));
        var handedOut = await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None);

        Assert.Equal(offsets, handedOut.Select(OffsetOf));
    }

    [Fact]
    public async Task A_pointer_to_a_message_of_another_MPAN_is_passed_over_and_never_handed_out()
    {
        // After a nats-server 2.9 leader change, the indexer's pointer can name a number the new leader gave another message.
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(store, 3);
        await WritePointersAsync(store, [offsets[0], offsets[1], offsets[2]], [Mpan, "1999999999999", Mpan]);
        using var subscription = NewSubscription(store);

        var handedOut = await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None);

        Assert.Equal([offsets[0], offsets[2]], handedOut.Select(OffsetOf));
        Assert.Equal(1, subscription.PointersPassedOver);
        Assert.Equal(1, subscription.PointersPassedOverFinding(PointerTarget.OtherMpan));
    }

    [Fact]
    public async Task A_pointer_past_the_end_of_its_partition_is_waited_for_then_passed_over_so_the_recipient_does_not_stall()
    {
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(store, 2);
        var pastTheEnd = (await store.RangeAsync(Topic, 0)).Next + 5;
        await WritePointersAsync(store, [pastTheEnd, offsets[0], offsets[1]]);
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        using var subscription = NewSubscription(store, clock);

        // The store may still catch up (a new stream leader applying what was committed): the pointer is read again…
        await Assert.ThrowsAsync<InvalidDataException>(() => subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None));
        clock.Now += RecipientSubscription.MissingGrace / 2;
        await Assert.ThrowsAsync<InvalidDataException>(() => subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None));
        Assert.Equal(0, subscription.PointersPassedOver);

        // …until the grace has passed: then it is given up and what follows it is handed out.
        clock.Now += RecipientSubscription.MissingGrace;
        var handedOut = await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None);

        Assert.Equal(offsets, handedOut.Select(OffsetOf));
        Assert.Equal(1, subscription.PointersPassedOver);
        Assert.Equal(1, subscription.PointersPassedOverFinding(PointerTarget.Missing));
    }

    [Fact]
    public async Task A_pointer_to_another_message_of_the_same_MPAN_at_its_place_is_passed_over_and_never_handed_out()
    {
        // After a nats-server 2.9 leader change, the number an indexer read one message at can hold another message of the
        // same MPAN on the new leader: the pointer's MPAN key matches, its fingerprint does not.
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(store, 3);
        var fingerprints = await FingerprintsAsync(store, offsets);
        await WritePointersAsync(store, [offsets[0], offsets[1], offsets[2]], fingerprints: [fingerprints[0], fingerprints[2], fingerprints[2]]);
        // The message at offsets[1] is also in the shared cache, stamped as its publisher stamps it: the cache is no way round.
        var cache = new StampedMessageCache();
        var stored = await StoredEventReader.ReadOneAsync(store, Topic, 0, offsets[1], CancellationToken.None);
        var (transactionId, bytes) = new MessageStamper(InterfaceCatalogue.Specification).Stamp(StoredMessage.Read(stored!), 0, offsets[1], replay: false);
        cache.Add(Topic, 0, offsets[1], new StampedMessage(transactionId, Mpan, bytes) { Fingerprint = fingerprints[1] });

        using var subscription = NewSubscription(store, stamped: cache);
        var handedOut = await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None);

        Assert.Equal([offsets[0], offsets[2]], handedOut.Select(OffsetOf));
        Assert.Equal(1, subscription.PointersPassedOver);
        Assert.Equal(1, subscription.PointersPassedOverFinding(PointerTarget.OtherMessage));
    }

    [Fact]
    public async Task A_pointer_without_a_fingerprint_as_inboxes_stored_before_it_hold_still_delivers_its_message()
    {
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(store, 2);
        await WriteFirstFormatPointersAsync(store, offsets);

        var handedOut = await FetchAllAsync(store);

        Assert.Equal(offsets, handedOut);
        Assert.Null(InboxPointer.Read((await StoredEventReader.ReadOneAsync(store, Inbox, 0, 0, CancellationToken.None))!).Fingerprint);
    }

    [Fact]
    public async Task When_the_inbox_tail_may_have_been_renumbered_the_reader_reads_it_again_from_before_its_cursor_and_hands_out_what_is_there_now()
    {
        // The reader read the inbox's old leader: pointers to m0 and m1, both acknowledged (a webhook's cursor is at the end
        // of what it read). The new leader kept m0's pointer but holds m2's at the number m1's had (and m3's after it): a
        // reader going on from its cursor would never read m2's.
        await using var home = await EngineHome.CreateAsync(engine);
        await using var inner = await home.OpenAsync();
        var m = await StoreMessagesAsync(inner, 4);
        await WritePointersAsync(inner, [m[0], m[1]], inbox: OldLeaderInbox);
        await WritePointersAsync(inner, [m[0], m[2], m[3]]);
        await using var store = new InboxLeaderChange(inner);
        using var subscription = NewSubscription(store);

        var before = await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None);
        Assert.Equal([m[0], m[1]], before.Select(OffsetOf));
        await subscription.AckAsync([.. before.Select(d => d.Receipt)], CancellationToken.None);
        store.ElectNewLeader();
        var after = await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None);

        Assert.Equal([m[2], m[3]], after.Select(OffsetOf));
        Assert.Equal(1, subscription.InboxRereads);
    }

    [Fact]
    public async Task An_inbox_read_again_hands_out_again_only_what_was_leased_and_not_acknowledged()
    {
        await using var home = await EngineHome.CreateAsync(engine);
        await using var inner = await home.OpenAsync();
        var m = await StoreMessagesAsync(inner, 3);
        await WritePointersAsync(inner, m, inbox: OldLeaderInbox);
        await WritePointersAsync(inner, m);
        await using var store = new InboxLeaderChange(inner);
        using var subscription = NewSubscription(store);

        var before = await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None);
        await subscription.AckAsync([before[0].Receipt, before[2].Receipt], CancellationToken.None); // m1 stays leased
        store.ElectNewLeader();
        var after = await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None);

        Assert.Equal([m[1]], after.Select(OffsetOf));
        Assert.Equal(1, subscription.LeasesHandedOutAgain);
        await subscription.AckAsync([after[0].Receipt], CancellationToken.None);
        Assert.Empty(await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None));
        Assert.Equal(0, await subscription.BacklogAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_receipt_given_before_an_inbox_re_read_settles_nothing_handed_out_after_it_at_the_same_inbox_offset()
    {
        // The reader leased m0 and m1 from the old leader (not acknowledged). The new leader holds m2's pointer at the number
        // m1's had. A pull recipient acknowledging its old receipts after the re-read must not settle m2, which it has not
        // received under those receipts: m2 stays owed until its own receipt comes back.
        await using var home = await EngineHome.CreateAsync(engine);
        await using var inner = await home.OpenAsync();
        var m = await StoreMessagesAsync(inner, 3);
        await WritePointersAsync(inner, [m[0], m[1]], inbox: OldLeaderInbox);
        await WritePointersAsync(inner, [m[0], m[2]]);
        await using var store = new InboxLeaderChange(inner);
        using var subscription = NewSubscription(store);

        var before = await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None);
        store.ElectNewLeader();
        var after = await subscription.FetchAsync(10, TimeSpan.Zero, CancellationToken.None);
        var settledByOld = await subscription.AckAsync([.. before.Select(d => d.Receipt)], CancellationToken.None);

        Assert.Equal([m[0], m[1]], before.Select(OffsetOf));
        Assert.Equal([m[0], m[2]], after.Select(OffsetOf));
        Assert.Equal(0, settledByOld);
        Assert.Equal(2, await subscription.BacklogAsync(CancellationToken.None));
        Assert.Equal(2, await subscription.AckAsync([.. after.Select(d => d.Receipt)], CancellationToken.None));
        Assert.Equal(0, await subscription.BacklogAsync(CancellationToken.None));
    }

    private static RecipientSubscription NewSubscription(IEventStore store, TimeProvider? time = null, StampedMessageCache? stamped = null)
        => new(store, InterfaceCatalogue.Specification, TestEnvironment, Recipient, "IF-021", TimeSpan.FromMinutes(1), time ?? TimeProvider.System, stamped);

    /// <summary>Everything the subscription hands out, in order, as event offsets.</summary>
    private static async Task<List<long>> FetchAllAsync(IEventStore store)
    {
        using var subscription = NewSubscription(store);
        var offsets = new List<long>();
        while (await subscription.FetchAsync(2, TimeSpan.Zero, CancellationToken.None) is { Count: > 0 } batch)
        {
            offsets.AddRange(batch.Select(OffsetOf));
            await subscription.AckAsync([.. batch.Select(d => d.Receipt)], CancellationToken.None);
        }

        return offsets;
    }

    private static long OffsetOf(Halfhour.Broker.Delivery.Delivery delivery)
    {
        Assert.True(TransactionId.TryParse(delivery.TransactionId, out _, out _, out var offset));
        return offset;
    }

    /// <summary>The inbox as its stream's old leader served it, before <see cref="InboxLeaderChange.ElectNewLeader"/>.</summary>
    private static readonly string OldLeaderInbox = Inbox + ".old-leader";

    /// <summary>
    /// The recipient's inbox as a broker node saw it across a leader change of the inbox's stream: reads are served from
    /// <see cref="OldLeaderInbox"/> until <see cref="ElectNewLeader"/>, which moves the inbox's tail epoch.
    /// </summary>
    private sealed class InboxLeaderChange(IEventStore inner) : DelegatingEventStore(inner)
    {
        private volatile bool _elected;

        public void ElectNewLeader() => _elected = true;

        public override long TailEpoch(string topic) => topic == Inbox && _elected ? Inner.TailEpoch(topic) + 1 : Inner.TailEpoch(topic);

        public override ValueTask<EventBatch> ReadAsync(string topic, int partition, long fromOffset, int maxBytes, CancellationToken cancellationToken = default)
            => Inner.ReadAsync(topic == Inbox && !_elected ? OldLeaderInbox : topic, partition, fromOffset, maxBytes, cancellationToken);
    }

    /// <summary>A store whose first reads of one topic fail as a store failure does.</summary>
    private sealed class FailingReads(IEventStore inner, string topic, int failures) : DelegatingEventStore(inner)
    {
        private int _failures = failures;

        public override ValueTask<EventBatch> ReadAsync(string topic1, int partition, long fromOffset, int maxBytes, CancellationToken cancellationToken = default)
            => topic1 == topic && Interlocked.Decrement(ref _failures) >= 0
                ? throw new IOException("the stream's leader is gone")
                : Inner.ReadAsync(topic1, partition, fromOffset, maxBytes, cancellationToken);
    }
}

public sealed class RecipientSubscriptionTestsOnEmbedded() : RecipientSubscriptionTests(EngineKind.Embedded);

public sealed class RecipientSubscriptionTestsOnJetStream() : RecipientSubscriptionTests(EngineKind.JetStream);
