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

    private readonly IEventStore _store;
    private readonly ILogger _logger;
    private readonly Dictionary<(string Topic, int Partition), long> _indexedThrough = [];
    private readonly Dictionary<(string Topic, int Partition), long> _checkpointed = [];
    private Task? _checkpoints;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<(string Topic, int Partition), Task> _loops = [];
    private readonly HashSet<string> _inboxes = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Creates an indexer over <paramref name="store"/>.</summary>
    public InboxIndexer(IEventStore store, ILogger logger)
    {
        _store = store;
        _logger = logger;
    }

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
                    var partition = p;
                    _loops[(topic, p)] = Task.Run(() => RunAsync(environment, interfaceId, topic, partition, _stopping.Token));
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

    private static string InboxOf(MarketEnvironment environment, string interfaceId, ReadOnlySpan<byte> dipId, Dictionary<string, string> inboxes,
        Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> lookup)
    {
        Span<char> chars = stackalloc char[dipId.Length];
        var length = System.Text.Encoding.ASCII.GetChars(dipId, chars);
        if (!lookup.TryGetValue(chars[..length], out var inbox))
        {
            var id = new string(chars[..length]);
            inboxes[id] = inbox = TopicLayout.InboxTopic(environment, id, interfaceId);
        }

        return inbox;
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

    private async Task RunAsync(MarketEnvironment environment, string interfaceId, string topic, int partition, CancellationToken cancellationToken)
    {
        var position = await _store.GetCursorAsync(CursorName, topic, partition, cancellationToken)
                       ?? (await _store.RangeAsync(topic, partition, cancellationToken)).Start;
        lock (_lock)
        {
            _indexedThrough[(topic, partition)] = position;
            _checkpointed[(topic, partition)] = position;
        }

        var writes = new List<EventWrite>();
        var touched = new HashSet<string>(StringComparer.Ordinal);
        var recipients = new List<Range>();

        // Inbox names by recipient DIP ID, found from the stored bytes without building a string per message.
        var inboxes = new Dictionary<string, string>(StringComparer.Ordinal);
        var inboxOf = inboxes.GetAlternateLookup<ReadOnlySpan<char>>();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await _store.WaitForAsync(topic, partition, position, cancellationToken);
                using var batch = await _store.ReadAsync(topic, partition, position, ReadBytes, cancellationToken);
                writes.Clear();
                touched.Clear();
                foreach (var stored in batch.Events)
                {
                    StoredMessage.FindRecipients(stored.Value.Span, recipients);
                    var pointer = new InboxPointer(interfaceId, partition, stored.Offset).ToArray();
                    foreach (var recipient in recipients)
                    {
                        var inbox = InboxOf(environment, interfaceId, stored.Value.Span[recipient], inboxes, inboxOf);
                        if (touched.Add(inbox))
                        {
                            await EnsureInboxAsync(inbox, cancellationToken);
                        }

                        writes.Add(new EventWrite(inbox, 0, stored.Key, pointer));
                    }
                }

                if (writes.Count > 0)
                {
                    await _store.AppendAsync(writes, cancellationToken);
                }

                position = batch.NextOffset;
                lock (_lock)
                {
                    _indexedThrough[(topic, partition)] = position;
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested) // any engine's failure (a NATS leader election too): never fatal
            {
                // Never skip: log loudly, back off, and try the same position again.
                _logger.LogError(ex, "Indexing {Topic}/{Partition} at offset {Offset} failed; retrying", topic, partition, position);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }
}
