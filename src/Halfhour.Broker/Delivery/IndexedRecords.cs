namespace Halfhour.Broker.Delivery;

/// <summary>
/// The last records an indexer loop wrote pointers for, by offset, each with its fingerprint (<see cref="InboxPointer.FingerprintOf"/>). When the store
/// says its tail may have changed (<see cref="Storage.IEventStore.TailEpoch"/>: a new stream leader), the loop reads
/// back over them and writes pointers only for records that are not the very ones it indexed there (renumbered,
/// replaced, or new), rather than pointing to every message again. Not thread-safe: one per loop.
/// </summary>
/// <param name="capacity">How many records are remembered.</param>
internal sealed class IndexedRecords(int capacity)
{
    private readonly Dictionary<long, ulong> _hashes = new(capacity);
    private readonly Queue<long> _order = new(capacity);

    /// <summary>The oldest offset remembered, or null when none is.</summary>
    public long? Oldest => _order.TryPeek(out var offset) ? offset : null;

    /// <summary>Whether pointers were written for exactly this record (these bytes at this offset).</summary>
    public bool Contains(long offset, ulong hash) => _hashes.TryGetValue(offset, out var known) && known == hash;

    /// <summary>Remembers that pointers were written for the record; the oldest are forgotten beyond the capacity.</summary>
    public void Add(long offset, ulong hash)
    {
        if (_hashes.TryAdd(offset, hash))
        {
            _order.Enqueue(offset);
            while (_order.Count > capacity)
            {
                _hashes.Remove(_order.Dequeue());
            }
        }
        else
        {
            _hashes[offset] = hash;
        }
    }
}
