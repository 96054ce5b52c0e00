using System.Text;
using Halfhour.Broker.Delivery;
using Halfhour.Broker.Messages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Tests.Support;
using Halfhour.Broker.Topics;
using Halfhour.Market.Participants;
using Microsoft.Extensions.Logging.Abstractions;

namespace Halfhour.Broker.Tests.Delivery;

/// <summary>
/// The inbox indexer over a real embedded store, fed by hand-offs as the publish pipeline feeds it, and by records the
/// store got some other way (another appender, a restart, a failed append). Whatever path an event takes, every inbox
/// must hold exactly the pointers a read of the store writes: one per recipient as stored, in offset order, none twice.
/// And over a store whose tail may change (a nats-server 2.9 stream leader's death), the indexer reads back over what the
/// new leader holds.
/// </summary>
public sealed class InboxIndexerHandoffTests : IAsyncLifetime
{
    private const string InterfaceId = "IF-021";
    private const string Supplier = "2000000001";
    private const string LoadShaping = "4000000001";
    private static readonly MarketEnvironment Environment = MarketEnvironment.DEV;
    private static readonly string Topic = TopicLayout.InterfaceTopic(Environment, InterfaceId);

    /// <summary>What the pipeline appends beside its messages: a record of a topic nobody indexes (the audit trail).</summary>
    private const string Unindexed = "DEV.unindexed";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "halfhour-handoff-" + Guid.NewGuid().ToString("N"));
    private readonly List<(long Offset, string Mpan, string[] Recipients)> _stored = [];
    private EmbeddedEventStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = EmbeddedEventStore.Open(_directory);
        await _store.EnsureTopicAsync(new TopicSpec(Topic, 1));
        await _store.EnsureTopicAsync(new TopicSpec(Unindexed, 1));
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Events_handed_over_after_their_append_are_indexed_from_memory_with_the_pointers_a_store_read_writes()
    {
        var indexer = Follow();
        await AppendAsync(indexer, 0, 1, 2);
        await AppendAsync(indexer, 3);
        await AppendAsync(indexer, 4, 5, 6, 7);
        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);

        Assert.Equal(8, indexer.IndexedFromMemory);
        Assert.Equal(0, indexer.IndexedFromStore);
        await AssertEveryInboxHoldsExactlyTheStoredPointersAsync();
        await AssertCheckpointAfterStopAsync(indexer, 8);
    }

    [Fact]
    public async Task After_a_restart_what_was_not_indexed_is_read_from_the_store_and_hand_offs_are_taken_again_once_caught_up()
    {
        var before = Follow();
        await AppendAsync(before, 0, 1, 2, 3);
        await before.WaitUntilCaughtUpAsync(CancellationToken.None);
        await AssertCheckpointAfterStopAsync(before, 4);

        // Stored while no indexer ran: nothing hands these over.
        await AppendAsync(null, 4, 5, 6);

        var after = Follow();
        await after.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal(3, after.IndexedFromStore);

        await AppendAsync(after, 7, 8);
        await after.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal(2, after.IndexedFromMemory);
        Assert.Equal(3, after.IndexedFromStore);
        await AssertEveryInboxHoldsExactlyTheStoredPointersAsync();
        await AssertCheckpointAfterStopAsync(after, 9);
    }

    [Fact]
    public async Task A_hand_off_starting_beyond_the_position_makes_the_indexer_read_the_gap_and_the_rest_from_the_store()
    {
        var indexer = Follow();
        await AppendAsync(indexer, 0, 1);
        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);

        // An append is announced; before it lands, another appender stores a record at the indexer's position.
        var (writes, recipients) = Writes(3);
        using (var handoff = indexer.Handoff!.Begin(writes))
        {
            await AppendAsync(null, 2);
            var offsets = await _store.AppendAsync(writes);
            Remember(offsets, 3);
            handoff.Complete(writes, offsets, recipients);
        }

        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal(2, indexer.IndexedFromMemory);
        Assert.Equal(2, indexer.IndexedFromStore);

        // Past the gap the hand-off is taken again; the stale hand-off of offset 3 is not indexed twice.
        await AppendAsync(indexer, 4);
        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal(3, indexer.IndexedFromMemory);
        await AssertEveryInboxHoldsExactlyTheStoredPointersAsync();
        await AssertCheckpointAfterStopAsync(indexer, 5);
    }

    [Fact]
    public async Task A_full_lane_drops_what_does_not_fit_without_waiting_and_the_indexer_reads_it_from_the_store()
    {
        var indexer = Follow(handoffCapacity: 4);
        await AppendAsync(indexer, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        Assert.Equal(6, indexer.Handoff!.Dropped);
        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);

        Assert.Equal(4, indexer.IndexedFromMemory);
        Assert.Equal(6, indexer.IndexedFromStore);
        await AssertEveryInboxHoldsExactlyTheStoredPointersAsync();
        await AssertCheckpointAfterStopAsync(indexer, 10);
    }

    [Fact]
    public async Task An_append_that_failed_after_storing_hands_nothing_over_and_the_indexer_reads_what_it_stored()
    {
        var indexer = Follow();
        var (writes, _) = Writes(0, 1);
        using (indexer.Handoff!.Begin(writes))
        {
            // The store kept the records but the appender saw a failure: it ends the announcement without completing it.
            Remember(await _store.AppendAsync(writes), 0, 1);
        }

        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal(0, indexer.IndexedFromMemory);
        Assert.Equal(2, indexer.IndexedFromStore);
        await AssertEveryInboxHoldsExactlyTheStoredPointersAsync();
        await AssertCheckpointAfterStopAsync(indexer, 2);
    }

    [Fact]
    public async Task When_the_tail_may_have_been_renumbered_the_indexer_indexes_its_recent_records_again_as_the_store_now_holds_them()
    {
        // The new leader of a JetStream stream can hold other records at the last numbers the old one served.
        Remember(await _store.AppendAsync(Writes(0, 1, 2, 3).Writes), 0, 1, 2, 3);
        await using var store = new NewLeader(_store) { ServesOldRecordsFrom = 2 };
        var indexer = new InboxIndexer(store, NullLogger.Instance);
        indexer.Follow(Environment, InterfaceId, 1);
        await indexer.WaitUntilCaughtUpAsync(CancellationToken.None);
        Assert.Equal([0, 1], await PointedToAsync(LoadShaping));
        Assert.Equal([2, 3], await PointedToAsync(NewLeader.OldRecipient));

        // The store says its tail may have changed; nothing new is appended.
        store.ServesOldRecordsFrom = long.MaxValue;
        store.Epoch++;
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await PointedToAsync(LoadShaping)).Distinct().Count() < 4 && DateTime.UtcNow < until)
        {
            await Task.Delay(50);
        }

        await indexer.DisposeAsync();
        Assert.Equal([0, 1, 2, 3], await PointedToAsync(LoadShaping)); // no second pointers to the records that stayed the same
        Assert.Equal([2, 3], await PointedToAsync(NewLeader.OldRecipient)); // stale; its reader passes them over (another MPAN there)
    }

    private InboxIndexer Follow(int handoffCapacity = AppendHandoff.DefaultCapacity)
    {
        var indexer = new InboxIndexer(_store, NullLogger.Instance, handoffCapacity);
        indexer.Follow(Environment, InterfaceId, 1);
        return indexer;
    }

    /// <summary>
    /// A consumption-like message per number: a supplier named twice (primary and always, as routing may do), a data
    /// service that varies, and the load shaping service.
    /// </summary>
    private static (List<EventWrite> Writes, string[]?[] Recipients) Writes(params int[] numbers)
    {
        var writes = new List<EventWrite>();
        var recipients = new string[]?[numbers.Length + 1];
        foreach (var number in numbers)
        {
            var message = new StoredMessage
            {
                InterfaceId = InterfaceId,
                EventCode = "ActivePower",
                AcceptedAt = DateTimeOffset.UnixEpoch.AddSeconds(number),
                SenderDipId = "3000000001",
                SenderRole = "SDS",
                SenderUniqueReference = $"ref-{number}",
                Mpan = MpanOf(number),
                Primary = [Supplier],
                Secondary = [$"30000000{number % 3:00}"],
                Always = [LoadShaping, Supplier],
                Body = "{}"u8.ToArray(),
            };
            recipients[writes.Count] = [.. message.Primary, .. message.Secondary, .. message.Always];
            writes.Add(new EventWrite(Topic, 0, Encoding.ASCII.GetBytes(message.Mpan), message.ToArray()));
        }

        writes.Add(new EventWrite(Unindexed, 0, default, "audit"u8.ToArray()));
        return (writes, recipients);
    }

    private static string MpanOf(int number) => (1_900_000_000_000L + number).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Appends the messages of <paramref name="numbers"/> in one group; hands them to <paramref name="handingOver"/>'s indexer as the pipeline does.</summary>
    private async Task AppendAsync(InboxIndexer? handingOver, params int[] numbers)
    {
        var (writes, recipients) = Writes(numbers);
        using var handoff = handingOver?.Handoff!.Begin(writes);
        var offsets = await _store.AppendAsync(writes);
        handoff?.Complete(writes, offsets, recipients);
        // The pipeline's stored forms share a pooled buffer that goes back to the pool here: what the indexer needs of a
        // value (its fingerprint) it must have taken during the hand-off.
        foreach (var write in writes)
        {
            System.Runtime.InteropServices.MemoryMarshal.AsMemory(write.Value).Span.Fill(0xEE);
        }

        Remember(offsets, numbers);
    }

    private void Remember(long[] offsets, params int[] numbers)
    {
        var (_, recipients) = Writes(numbers);
        for (var i = 0; i < numbers.Length; i++)
        {
            _stored.Add((offsets[i], MpanOf(numbers[i]), recipients[i]!));
        }
    }

    /// <summary>Every inbox holds, in offset order, one pointer per time its owner is named in a stored event, keyed by the event's MPAN.</summary>
    private async Task AssertEveryInboxHoldsExactlyTheStoredPointersAsync()
    {
        var expected = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (offset, mpan, recipients) in _stored.OrderBy(s => s.Offset))
        {
            foreach (var recipient in recipients)
            {
                var inbox = TopicLayout.InboxTopic(Environment, recipient, InterfaceId);
                if (!expected.TryGetValue(inbox, out var pointers))
                {
                    expected[inbox] = pointers = [];
                }

                pointers.Add($"{mpan}@{InterfaceId}/0/{offset}");
            }
        }

        var actual = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var inbox in (await _store.ListTopicsAsync()).Where(t => t.StartsWith("DEV.inbox.", StringComparison.Ordinal)))
        {
            var pointers = actual[inbox] = [];
            var end = (await _store.RangeAsync(inbox, 0)).Next;
            for (var at = 0L; at < end;)
            {
                using var batch = await _store.ReadAsync(inbox, 0, at, 1 << 20);
                foreach (var record in batch.Events)
                {
                    var pointer = InboxPointer.Read(record.Value.Span);
                    pointers.Add($"{Encoding.ASCII.GetString(record.Key.Span)}@{pointer.InterfaceId}/{pointer.Partition}/{pointer.Offset}");
                    // Whichever path indexed it, the pointer names the very record stored there.
                    var stored = await StoredEventReader.ReadOneAsync(_store, Topic, pointer.Partition, pointer.Offset, CancellationToken.None);
                    Assert.Equal(InboxPointer.FingerprintOf(stored), pointer.Fingerprint);
                }

                at = batch.NextOffset;
            }
        }

        Assert.Equal(expected, actual);
    }

    /// <summary>Stops the indexer (its last checkpoint) and checks the durable position is just past the last stored event.</summary>
    private async Task AssertCheckpointAfterStopAsync(InboxIndexer indexer, long next)
    {
        await indexer.DisposeAsync();
        Assert.Equal(next, await _store.GetCursorAsync(InboxIndexer.CursorName, Topic, 0));
    }

    /// <summary>The offsets the recipient's inbox points to, in inbox order.</summary>
    private async Task<List<long>> PointedToAsync(string recipient)
    {
        var inbox = TopicLayout.InboxTopic(Environment, recipient, InterfaceId);
        if (!(await _store.ListTopicsAsync()).Contains(inbox))
        {
            return [];
        }

        using var batch = await _store.ReadAsync(inbox, 0, 0, 1 << 20);
        return [.. batch.Events.Select(e => InboxPointer.Read(e.Value.Span).Offset)];
    }

    /// <summary>
    /// The store as a broker node saw it across a leader change: until <see cref="ServesOldRecordsFrom"/> is moved, the
    /// records from there on are the old leader's (messages of other MPANs for <see cref="OldRecipient"/>); <see cref="Epoch"/> is the tail epoch.
    /// </summary>
    private sealed class NewLeader(IEventStore inner) : DelegatingEventStore(inner)
    {
        public const string OldRecipient = "2000000009";

        public long ServesOldRecordsFrom { get; set; }

        public long Epoch { get; set; }

        public override long TailEpoch(string topic) => Epoch;

        public override async ValueTask<EventBatch> ReadAsync(string topic, int partition, long fromOffset, int maxBytes, CancellationToken cancellationToken = default)
        {
            var batch = await Inner.ReadAsync(topic, partition, fromOffset, maxBytes, cancellationToken);
            if (topic != Topic)
            {
                return batch;
            }

            var old = ServesOldRecordsFrom;
            var events = batch.Events.Select(e => e.Offset < old ? e with { Value = e.Value.ToArray() } : OldRecord(e)).ToList();
            var next = batch.NextOffset;
            batch.Dispose();
            return new ListBatch(events, next);
        }

        private static StoredEvent OldRecord(StoredEvent e)
        {
            var message = new StoredMessage
            {
                InterfaceId = InterfaceId,
                EventCode = "ActivePower",
                AcceptedAt = DateTimeOffset.UnixEpoch,
                SenderDipId = "3000000001",
                SenderRole = "SDS",
                SenderUniqueReference = $"old-{e.Offset}",
                Mpan = MpanOf(1000 + (int)e.Offset),
                Always = [OldRecipient],
                Body = "{}"u8.ToArray(),
            };
            return e with { Key = Encoding.ASCII.GetBytes(message.Mpan), Value = message.ToArray() };
        }
    }

    private sealed class ListBatch(IReadOnlyList<StoredEvent> events, long next) : EventBatch
    {
        public override IReadOnlyList<StoredEvent> Events => events;

        public override long NextOffset => next;
    }
}
