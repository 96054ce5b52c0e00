using Halfhour.Broker.Messages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;
using Halfhour.Market.Participants;
using Microsoft.Extensions.Logging;

namespace Halfhour.Broker.Delivery;

/// <summary>
/// Fans accepted messages out to their recipients' inboxes: one loop per interface-topic partition
/// follows the partition's tail and appends, for every message, a pointer to the inbox of each of its
/// recipients. Publishing stays one durable append per batch; a recipient's delivery reads only its
/// own inbox, so its cost follows what is routed to it, not the market's volume.
/// Failure semantics: inboxes are derived data, appended without an fsync of their own. A checkpoint
/// every <see cref="CheckpointInterval"/> flushes them and only then commits every loop's position as a
/// durable cursor, so after a crash each loop resumes at or before the first pointer not yet stored;
/// pointers written twice are skipped by the reader, which remembers the messages it handed out recently. One flush serves every inbox touched in the interval: with ~80 inboxes
/// touched per round, flushing per round would cost thousands of fsyncs a second under load.
/// Where the events come from: over a store whose append offsets are exact (<see cref="IEventStore.AppendsAreExact"/>)
/// the appenders of this process hand each accepted event over in memory right after its durable append
/// (<see cref="AppendHandoff"/>: offset, key, recipients), and a loop takes it from there when it continues exactly at
/// the loop's position; otherwise (after a restart, another appender, an overflow, a failed append) the loop reads the
/// store from its position, as it does on every other engine. Both write the same pointers and move the same positions.
/// When the store says a topic's latest records may have been renumbered or dropped (<see cref="IEventStore.TailEpoch"/>:
/// a new JetStream stream leader), each loop of the topic reads its last <see cref="RewindOnTailChange"/> offsets again.
/// </summary>
public sealed class InboxIndexer : IAsyncDisposable
{
    /// <summary>The cursor name of the indexer's positions.</summary>
    public const string CursorName = "indexer";

    /// <summary>
    /// Read up to 1 MiB of events per round: about 400 consumption messages, so the flush and the cursor
    /// commit that close a round are shared by hundreds of messages under load, and a quiet round is small.
    /// </summary>
    private const int ReadBytes = 1 << 20;

    /// <summary>
    /// A quarter of a second between checkpoints: a crash re-indexes at most that much (cheap, and
    /// duplicates are skipped), while the flush's cost is shared by everything indexed in the interval.
    /// </summary>
    public static readonly TimeSpan CheckpointInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How far back a loop reads again when the store's tail may have changed (<see cref="IEventStore.TailEpoch"/>): what a
    /// stream leader had stored but not yet replicated when it died is a few hundred records at most (the publishes in
    /// flight); 4,096 offsets of the topic (JetStream numbers the records of all its partitions in one sequence) hold them.
    /// Records read back that are the same as when indexed (<see cref="IndexedRecords"/>) get no second pointers.
    /// </summary>
    public const long RewindOnTailChange = 4096;

    /// <summary>How often a loop with nothing to index looks whether the store's tail changed.</summary>
    public static readonly TimeSpan TailCheckInterval = TimeSpan.FromSeconds(1);

    private readonly IEventStore _store;
    private readonly ILogger _logger;
    private readonly Dictionary<(string Topic, int Partition), long> _indexedThrough = [];
    private readonly Dictionary<(string Topic, int Partition), long> _checkpointed = [];
    private Task? _checkpoints;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<(string Topic, int Partition), Task> _loops = [];
    private readonly HashSet<string> _inboxes = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _indexedFromMemory;
    private long _indexedFromStore;

    /// <summary>Creates an indexer over <paramref name="store"/>.</summary>
    public InboxIndexer(IEventStore store, ILogger logger)
        : this(store, logger, AppendHandoff.DefaultCapacity)
    {
    }

    /// <summary>Creates an indexer whose hand-off lanes hold <paramref name="handoffCapacity"/> events each (tests make them small).</summary>
    internal InboxIndexer(IEventStore store, ILogger logger, int handoffCapacity)
    {
        _store = store;
        _logger = logger;
        Handoff = store.AppendsAreExact ? new AppendHandoff(handoffCapacity) : null;
    }

    /// <summary>Where this process's appenders hand accepted events over; null when the store's offsets are not exact.</summary>
    internal AppendHandoff? Handoff { get; }

    /// <summary>How many events were indexed from what their appender handed over.</summary>
    internal long IndexedFromMemory => Interlocked.Read(ref _indexedFromMemory);

    /// <summary>How many events were indexed from reading the store.</summary>
    internal long IndexedFromStore => Interlocked.Read(ref _indexedFromStore);

    /// <summary>Starts following every partition of an interface topic, once.</summary>
    public void Follow(MarketEnvironment environment, string interfaceId, int partitions)
    {
        var topic = TopicLayout.InterfaceTopic(environment, interfaceId);
        lock (_lock)
        {
            _checkpoints ??= Task.Run(() => CheckpointLoopAsync(_stopping.Token));
            for (var p = 0; p < partitions; p++)
            {
                if (!_loops.ContainsKey((topic, p)))
                {
                    // The lane opens before the loop starts: appends announced from now on hand their events over.
                    var partition = p;
                    var lane = Handoff?.Open(topic, partition);
                    _loops[(topic, p)] = Task.Run(() => RunAsync(environment, interfaceId, topic, partition, lane, _stopping.Token));
                }
            }
        }
    }

    /// <summary>Creates an inbox topic when it does not exist yet.</summary>
    public async ValueTask EnsureInboxAsync(string inboxTopic, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_inboxes.Contains(inboxTopic))
            {
                return;
            }
        }

        await _store.EnsureTopicAsync(new TopicSpec(inboxTopic, 1, TopicDurability.Derived), cancellationToken);
        lock (_lock)
        {
            _inboxes.Add(inboxTopic);
        }
    }

    /// <summary>Completes once every followed partition has been indexed up to its end as of now (for tests and orderly shutdown).</summary>
    public async Task WaitUntilCaughtUpAsync(CancellationToken cancellationToken)
    {
        KeyValuePair<(string Topic, int Partition), Task>[] loops;
        lock (_lock)
        {
            loops = [.. _loops];
        }

        foreach (var ((topic, partition), _) in loops)
        {
            var end = (await _store.RangeAsync(topic, partition, cancellationToken)).Next;
            while (IndexedThrough(topic, partition) < end)
            {
                await Task.Delay(5, cancellationToken);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        Task[] loops;
        lock (_lock)
        {
            loops = [.. _loops.Values];
        }

        try
        {
            await Task.WhenAll(loops);
            if (_checkpoints is not null)
            {
                await _checkpoints;
            }
        }
        catch (OperationCanceledException)
        {
        }

        // A last checkpoint so an orderly stop re-indexes nothing.
        await CheckpointAsync(CancellationToken.None);
        _stopping.Dispose();
    }

    private long IndexedThrough(string topic, int partition)
    {
        lock (_lock)
        {
            return _indexedThrough.GetValueOrDefault((topic, partition), -1);
        }
    }

    private async Task CheckpointLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(CheckpointInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await CheckpointAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is IOException or InvalidOperationException)
                {
                    _logger.LogError(ex, "Indexer checkpoint failed; the next one retries (nothing is lost, more is re-indexed after a crash)");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task CheckpointAsync(CancellationToken cancellationToken)
    {
        var updates = new List<CursorUpdate>();
        lock (_lock)
        {
            foreach (var (key, position) in _indexedThrough)
            {
                if (_checkpointed.GetValueOrDefault(key, -1) != position)
                {
                    updates.Add(new CursorUpdate(CursorName, key.Topic, key.Partition, position));
                }
            }
        }

        if (updates.Count == 0)
        {
            return;
        }

        // Flush first: the cursor must never say a pointer exists that a power cut could take away.
        await _store.FlushDerivedAsync(cancellationToken);
        await _store.CommitCursorsAsync(updates, cancellationToken);
        lock (_lock)
        {
            foreach (var update in updates)
            {
                _checkpointed[(update.Topic, update.Partition)] = update.Offset;
            }
        }
    }

    private async Task RunAsync(MarketEnvironment environment, string interfaceId, string topic, int partition, AppendHandoff.Lane? lane,
        CancellationToken cancellationToken)
    {
        var position = await _store.GetCursorAsync(CursorName, topic, partition, cancellationToken)
                       ?? (await _store.RangeAsync(topic, partition, cancellationToken)).Start;
        lock (_lock)
        {
            _indexedThrough[(topic, partition)] = position;
            _checkpointed[(topic, partition)] = position;
        }

        var round = new PointerRound(environment, interfaceId, partition);
        var handedOff = new List<AppendedEvent>();
        var recipients = new List<Range>();
        // Over a store whose appends are not exact (JetStream: the only kind whose tail may change), what was indexed, so
        // reading back over it after a tail change writes only what is new there.
        var indexed = lane is null ? new IndexedRecords((int)RewindOnTailChange) : null;
        var epoch = _store.TailEpoch(topic);
        var pending = new List<(long Offset, ulong Hash)>();

        // The position whose record no append of this process can still hand over: the store is read from there.
        var settled = -1L;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (indexed is not null && _store.TailEpoch(topic) is var now && now != epoch)
                {
                    // The store may have renumbered or dropped records this loop indexed: read them again as they are now,
                    // back to the oldest one remembered. Records unchanged get no second pointers; a pointer to a number that
                    // now holds another message, or none, is passed over by its reader.
                    epoch = now;
                    var rewound = Math.Max(position - RewindOnTailChange, Math.Min(indexed.Oldest ?? position, position));
                    _logger.LogInformation("The store's records of {Topic} may have been renumbered (a new stream leader): indexing partition {Partition} again from offset {From} (was at {Position})",
                        topic, partition, rewound, position);
                    position = rewound;
                    settled = -1;
                    lock (_lock)
                    {
                        _indexedThrough[(topic, partition)] = position;
                    }
                }

                if (lane is not null && lane.TryTake(position, handedOff))
                {
                    foreach (var appended in handedOff)
                    {
                        round.Add(appended);
                    }

                    var next = handedOff[^1].Offset + 1;
                    await CompleteRoundAsync(round, topic, partition, next, cancellationToken);
                    position = next;
                    Interlocked.Add(ref _indexedFromMemory, handedOff.Count);
                    continue;
                }

                if (!await WaitForRecordAsync(topic, partition, position, lane is null, cancellationToken))
                {
                    continue; // no record yet: look at the tail epoch again
                }

                if (lane is not null && settled != position)
                {
                    // The record at the position may be this process's own, its appender about to hand it over: wait for the
                    // appends announced so far, not for later ones (they cannot hold it), then look in memory once more.
                    await lane.WaitForAppendsBegunAsync(cancellationToken);
                    settled = position;
                    continue;
                }

                using var batch = await _store.ReadAsync(topic, partition, position, ReadBytes, cancellationToken);
                pending.Clear();
                foreach (var stored in batch.Events)
                {
                    var fingerprint = InboxPointer.FingerprintOf(stored.Value.Span);
                    if (indexed is not null)
                    {
                        if (indexed.Contains(stored.Offset, fingerprint))
                        {
                            continue; // read back after a tail change, and the same record as before: its pointers exist
                        }

                        pending.Add((stored.Offset, fingerprint));
                    }

                    StoredMessage.FindRecipients(stored.Value.Span, recipients);
                    round.Add(stored.Offset, stored.Key, fingerprint, stored.Value.Span, recipients);
                }

                await CompleteRoundAsync(round, topic, partition, batch.NextOffset, cancellationToken);
                foreach (var (offset, hash) in pending)
                {
                    indexed!.Add(offset, hash); // only once its pointers are stored: a failed round is indexed again in full
                }

                position = batch.NextOffset;
                Interlocked.Add(ref _indexedFromStore, batch.Events.Count);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested) // any engine's failure (a NATS leader election too): never fatal
            {
                // Never skip: log loudly, back off, and try the same position again.
                _logger.LogError(ex, "Indexing {Topic}/{Partition} at offset {Offset} failed; retrying", topic, partition, position);
                round.Clear();
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    /// <summary>
    /// Waits for a record at or past <paramref name="position"/>; with <paramref name="bounded"/> (a store whose tail may
    /// change, <see cref="IEventStore.TailEpoch"/>) for at most <see cref="TailCheckInterval"/>, returning false when none
    /// came, so an idle loop still notices a change of the tail (after which a record may sit before its position).
    /// </summary>
    private async ValueTask<bool> WaitForRecordAsync(string topic, int partition, long position, bool bounded, CancellationToken cancellationToken)
    {
        if (!bounded)
        {
            await _store.WaitForAsync(topic, partition, position, cancellationToken);
            return true;
        }

        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(TailCheckInterval);
        try
        {
            await _store.WaitForAsync(topic, partition, position, wait.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Appends a round's pointers (creating the inboxes they go to first) and moves the partition's position past it.</summary>
    private async ValueTask CompleteRoundAsync(PointerRound round, string topic, int partition, long next, CancellationToken cancellationToken)
    {
        foreach (var inbox in round.Touched)
        {
            await EnsureInboxAsync(inbox, cancellationToken);
        }

        if (round.Writes.Count > 0)
        {
            await _store.AppendAsync(round.Writes, cancellationToken);
        }

        round.Clear();
        lock (_lock)
        {
            _indexedThrough[(topic, partition)] = next;
        }
    }

    /// <summary>
    /// The pointers of one round of a partition's events, whether read from the store or handed over (each pointer carrying
    /// its record's fingerprint, so a reader can tell the message from another later stored at its place), and the inbox names
    /// found so far (kept across rounds, looked up without building a string per message).
    /// </summary>
    private sealed class PointerRound
    {
        private readonly MarketEnvironment _environment;
        private readonly string _interfaceId;
        private readonly int _partition;
        private readonly Dictionary<string, string> _inboxes = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _inboxOf;

        public PointerRound(MarketEnvironment environment, string interfaceId, int partition)
        {
            _environment = environment;
            _interfaceId = interfaceId;
            _partition = partition;
            _inboxOf = _inboxes.GetAlternateLookup<ReadOnlySpan<char>>();
        }

        /// <summary>The pointer writes, in event order and, per event, in recipient order.</summary>
        public List<EventWrite> Writes { get; } = [];

        /// <summary>The inboxes the round writes to.</summary>
        public HashSet<string> Touched { get; } = new(StringComparer.Ordinal);

        /// <summary>
        /// Adds the pointers of a stored event (its <paramref name="fingerprint"/> computed from <paramref name="stored"/>), its
        /// recipients found at <paramref name="recipients"/> in its stored bytes.
        /// </summary>
        public void Add(long offset, ReadOnlyMemory<byte> key, ulong fingerprint, ReadOnlySpan<byte> stored, List<Range> recipients)
        {
            var pointer = new InboxPointer(_interfaceId, _partition, offset, fingerprint).ToArray();
            Span<char> dipId = stackalloc char[16];
            foreach (var recipient in recipients)
            {
                var length = System.Text.Encoding.ASCII.GetChars(stored[recipient], dipId);
                Add(InboxOf(dipId[..length]), key, pointer);
            }
        }

        /// <summary>Adds the pointers of an event handed over by its appender.</summary>
        public void Add(AppendedEvent appended)
        {
            var pointer = new InboxPointer(_interfaceId, _partition, appended.Offset, appended.Fingerprint).ToArray();
            foreach (var recipient in appended.Recipients)
            {
                Add(InboxOf(recipient), appended.Key, pointer);
            }
        }

        /// <summary>Forgets the round's pointers (after a failure the same events are indexed again).</summary>
        public void Clear()
        {
            Writes.Clear();
            Touched.Clear();
        }

        private void Add(string inbox, ReadOnlyMemory<byte> key, byte[] pointer)
        {
            Touched.Add(inbox);
            Writes.Add(new EventWrite(inbox, 0, key, pointer));
        }

        private string InboxOf(ReadOnlySpan<char> dipId)
        {
            if (!_inboxOf.TryGetValue(dipId, out var inbox))
            {
                var id = new string(dipId);
                _inboxes[id] = inbox = TopicLayout.InboxTopic(_environment, id, _interfaceId);
            }

            return inbox;
        }
    }
}
