using Halfhour.Log;
using Halfhour.Log.Compression;
using Halfhour.Log.Cursors;
using Halfhour.Log.Encryption;
using Halfhour.Log.Records;
using Halfhour.Log.Retention;
using Halfhour.Log.Topics;

namespace Halfhour.Broker.Storage;

/// <summary>
/// <see cref="IEventStore"/> on the embedded log (Halfhour.Log): no server to install.
/// Durable topics live in one log that fsyncs before an append completes; derived topics in a second
/// log that acknowledges from the page cache (a process crash keeps them, a power cut may not, and the
/// broker derives them again from its durable watermark). Cursors are a checksummed journal.
/// </summary>
public sealed class EmbeddedEventStore : IEventStore
{
    private readonly EventLog _durable;
    private readonly EventLog _derived;
    private readonly CursorStore _cursors;
    private readonly Dictionary<string, EventLog> _logOf = new(StringComparer.Ordinal);
    private readonly Lock _topicsLock = new();

    private EmbeddedEventStore(EventLog durable, EventLog derived, CursorStore cursors)
    {
        _durable = durable;
        _derived = derived;
        _cursors = cursors;
        foreach (var name in durable.TopicNames)
        {
            _logOf[name] = durable;
        }

        foreach (var name in derived.TopicNames)
        {
            _logOf[name] = derived;
        }
    }

    /// <summary>The durable log, for operators' tools (metrics, retention).</summary>
    public EventLog DurableLog => _durable;

    /// <summary>Opens (or creates) the store under <paramref name="directory"/>.</summary>
    public static EmbeddedEventStore Open(string directory, EncryptionKeyring? keyring = null, EventLogOptions? options = null)
    {
        Directory.CreateDirectory(directory);
        var baseOptions = (options ?? EventLogOptions.Default) with { Keyring = keyring ?? options?.Keyring };
        var durable = EventLog.Open(Path.Combine(directory, "events"), baseOptions with { Durability = Durability.Fsync });
        EventLog? derived = null;
        try
        {
            derived = EventLog.Open(Path.Combine(directory, "derived"), baseOptions with { Durability = Durability.OsCache });
            return new EmbeddedEventStore(durable, derived, durable.Cursors);
        }
        catch
        {
            derived?.Dispose();
            durable.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask EnsureTopicAsync(TopicSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        lock (_topicsLock)
        {
            if (_logOf.ContainsKey(spec.Name))
            {
                return ValueTask.CompletedTask;
            }

            var log = spec.Durability == TopicDurability.Durable ? _durable : _derived;
            log.CreateTopic(spec.Name, new TopicOptions
            {
                Partitions = spec.Partitions,
                Encrypted = log.Options.Keyring is not null,
                Compression = spec.Compressed ? CompressionOptions.Zstd : CompressionOptions.None,
                Retention = spec.RetainFor is { } age ? new RetentionOptions { MaxAge = age } : RetentionOptions.KeepForever,
            });
            _logOf[spec.Name] = log;
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async ValueTask<long[]> AppendAsync(IReadOnlyList<EventWrite> writes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writes);
        var requests = new AppendRequest[writes.Count];
        var log = default(EventLog);
        var mixed = false;
        for (var i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            var owner = LogOf(write.Topic);
            mixed |= log is not null && owner != log;
            log = owner;
            requests[i] = new AppendRequest(write.Topic, write.Partition, new AppendRecord(write.Value, write.Key));
        }

        if (!mixed)
        {
            return log is null ? [] : await log.AppendAsync(requests, cancellationToken);
        }

        // A group spanning both logs: the durable part first, so nothing derived can point past what is durable.
        var offsets = new long[writes.Count];
        await AppendPartAsync(_durable, requests, offsets, cancellationToken);
        await AppendPartAsync(_derived, requests, offsets, cancellationToken);
        return offsets;
    }

    /// <inheritdoc />
    /// <remarks>True: the embedded log stores every write it is given (it ignores idempotency keys; the broker de-duplicates first).</remarks>
    public bool AppendsAreExact => true;

    /// <inheritdoc />
    public ValueTask FlushDerivedAsync(CancellationToken cancellationToken = default) => _derived.FlushAsync(cancellationToken);

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<string>> ListTopicsAsync(CancellationToken cancellationToken = default)
    {
        lock (_topicsLock)
        {
            return ValueTask.FromResult<IReadOnlyList<string>>([.. _logOf.Keys]);
        }
    }

    /// <inheritdoc />
    public ValueTask<EventBatch> ReadAsync(string topic, int partition, long fromOffset, int maxBytes, CancellationToken cancellationToken = default)
    {
        var result = LogOf(topic).Read(topic, partition, fromOffset, maxBytes);
        return ValueTask.FromResult<EventBatch>(new LogEventBatch(result));
    }

    /// <inheritdoc />
    public ValueTask<PartitionRange> RangeAsync(string topic, int partition, CancellationToken cancellationToken = default)
    {
        var bounds = LogOf(topic).GetBounds(topic, partition);
        return ValueTask.FromResult(new PartitionRange(bounds.StartOffset, bounds.NextOffset));
    }

    /// <inheritdoc />
    public ValueTask<long> OffsetAtAsync(string topic, int partition, DateTimeOffset timestamp, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(LogOf(topic).FindOffset(topic, partition, timestamp));

    /// <inheritdoc />
    public ValueTask WaitForAsync(string topic, int partition, long offset, CancellationToken cancellationToken = default)
        => LogOf(topic).WaitForDataAsync(topic, partition, offset, cancellationToken);

    /// <inheritdoc />
    public ValueTask<long?> GetCursorAsync(string name, string topic, int partition, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(_cursors.Get(name, topic, partition));

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<CursorUpdate>> GetCursorsAsync(string name, CancellationToken cancellationToken = default)
    {
        var positions = _cursors.GetAll(name);
        var updates = new CursorUpdate[positions.Count];
        for (var i = 0; i < positions.Count; i++)
        {
            updates[i] = new CursorUpdate(name, positions[i].Topic, positions[i].Partition, positions[i].Offset);
        }

        return ValueTask.FromResult<IReadOnlyList<CursorUpdate>>(updates);
    }

    /// <inheritdoc />
    public ValueTask CommitCursorsAsync(IReadOnlyList<CursorUpdate> updates, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(updates);
        var positions = new CursorPosition[updates.Count];
        for (var i = 0; i < updates.Count; i++)
        {
            var u = updates[i];
            positions[i] = new CursorPosition(u.Name, u.Topic, u.Partition, u.Offset);
        }

        return _cursors.CommitAsync(positions, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _derived.DisposeAsync();
        await _durable.DisposeAsync(); // also closes the cursor store it owns
    }

    private EventLog LogOf(string topic)
    {
        lock (_topicsLock)
        {
            return _logOf.TryGetValue(topic, out var log)
                ? log
                : throw new ArgumentException($"Topic '{topic}' does not exist; create it with EnsureTopicAsync first.", nameof(topic));
        }
    }

    private async ValueTask AppendPartAsync(EventLog log, AppendRequest[] requests, long[] offsets, CancellationToken cancellationToken)
    {
        var part = new List<AppendRequest>(requests.Length);
        var indexes = new List<int>(requests.Length);
        for (var i = 0; i < requests.Length; i++)
        {
            if (LogOf(requests[i].Topic) == log)
            {
                part.Add(requests[i]);
                indexes.Add(i);
            }
        }

        if (part.Count == 0)
        {
            return;
        }

        var partOffsets = await log.AppendAsync(part, cancellationToken);
        for (var k = 0; k < indexes.Count; k++)
        {
            offsets[indexes[k]] = partOffsets[k];
        }
    }

    /// <summary>A read result of the embedded log, seen through the abstraction.</summary>
    private sealed class LogEventBatch : EventBatch
    {
        private readonly LogReadResult _result;
        private readonly List<StoredEvent> _events;

        public LogEventBatch(LogReadResult result)
        {
            _result = result;
            _events = new List<StoredEvent>(result.Count);
            foreach (var record in result)
            {
                _events.Add(new StoredEvent(record.Offset, record.Timestamp, record.Key, record.Value));
            }
        }

        public override IReadOnlyList<StoredEvent> Events => _events;

        public override long NextOffset => _result.NextOffset;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _result.Dispose();
            }
        }
    }
}
