namespace Halfhour.Broker.Storage;

/// <summary>
/// Reads single records by position, keeping the last batch read from each partition: the pointers a
/// recipient's inbox or a replay page follow usually land in the same stored batch, which is then read,
/// checksummed and decrypted once rather than once per record. Not thread-safe; dispose to return the batches.
/// </summary>
public sealed class StoredEventReader(IEventStore store) : IDisposable
{
    /// <summary>Read 256 KiB at a time: a stored batch or two, enough for the run of pointers that follows.</summary>
    private const int ReadBytes = 256 << 10;

    private readonly IEventStore _store = store;
    private readonly Dictionary<(string Topic, int Partition), EventBatch> _cache = [];

    /// <summary>
    /// The value of the record at <paramref name="offset"/>, or null when the store holds no record there. The memory
    /// stays valid until the next read of the same partition or until the reader is disposed.
    /// </summary>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadAsync(string topic, int partition, long offset, CancellationToken cancellationToken)
    {
        var key = (topic, partition);
        if (_cache.TryGetValue(key, out var cached))
        {
            if (Find(cached, offset) is { } hit)
            {
                return hit;
            }

            cached.Dispose();
            _cache.Remove(key);
        }

        var batch = await _store.ReadAsync(topic, partition, offset, ReadBytes, cancellationToken);
        _cache[key] = batch;
        return Find(batch, offset);
    }

    /// <summary>Reads one record without keeping anything (a single lookup); the value is copied out of the store's buffers.</summary>
    public static async ValueTask<byte[]?> ReadOneAsync(IEventStore store, string topic, int partition, long offset, CancellationToken cancellationToken)
    {
        using var reader = new StoredEventReader(store);
        return await reader.ReadAsync(topic, partition, offset, cancellationToken) is { } value ? value.ToArray() : null;
    }

    /// <summary>Drops the batches kept (the store's records may have changed since they were read); the reader stays usable.</summary>
    public void Forget()
    {
        foreach (var batch in _cache.Values)
        {
            batch.Dispose();
        }

        _cache.Clear();
    }

    /// <inheritdoc />
    public void Dispose() => Forget();

    private static ReadOnlyMemory<byte>? Find(EventBatch batch, long offset)
    {
        var events = batch.Events;
        if (events.Count == 0 || offset < events[0].Offset || offset > events[^1].Offset)
        {
            return null;
        }

        // Offsets are ordered (not always contiguous): binary search.
        int lo = 0, hi = events.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var at = events[mid].Offset;
            if (at == offset)
            {
                return events[mid].Value;
            }

            if (at < offset)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return null;
    }
}
