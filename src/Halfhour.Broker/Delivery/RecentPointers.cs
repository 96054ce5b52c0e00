namespace Halfhour.Broker.Delivery;

/// <summary>
/// The last <see cref="Capacity"/> messages a subscription handed out (by topic, partition, offset and the pointer's
/// fingerprint, 0 for a pointer without one), so that the
/// second pointer to a message (every broker node's indexer writes one, and an indexer resuming from its checkpoint
/// writes some again) is passed over as the repeat it is. Exact: a pointer is a repeat only when the very same message
/// (topic, partition, offset, fingerprint) was handed out — a pointer to another message later stored at the same place
/// (a renumbered stream tail) is not one; it infers nothing from order, because pointers from two writers (or from a
/// stream whose leader changed) can arrive in any order. A repeat arriving more than <see cref="Capacity"/> messages after
/// its first is handed out again: a duplicate with the same transaction ID, which at-least-once allows, never a loss.
/// Not thread-safe: the subscription's gate guards it.
/// </summary>
internal sealed class RecentPointers
{
    /// <summary>
    /// 8,192 messages: the two indexers' pointers to a message land within tens of records of each other in the soak
    /// runs' inboxes (each indexer writes a round of at most ~400 messages at a time), and a full set costs ~450 KB.
    /// </summary>
    public const int Capacity = 8192;

    private readonly HashSet<(int Topic, int Partition, long Offset, ulong Fingerprint)> _seen = [];
    private readonly Queue<(int Topic, int Partition, long Offset, ulong Fingerprint)> _order = new();

    /// <summary>Remembers a message handed out; false when it was handed out already (a repeat).</summary>
    public bool Add(int topic, int partition, long offset, ulong fingerprint)
    {
        var key = (topic, partition, offset, fingerprint);
        if (!_seen.Add(key))
        {
            return false;
        }

        _order.Enqueue(key);
        if (_order.Count > Capacity)
        {
            _seen.Remove(_order.Dequeue());
        }

        return true;
    }

    /// <summary>True when the message is among the last <see cref="Capacity"/> handed out.</summary>
    public bool Contains(int topic, int partition, long offset, ulong fingerprint) => _seen.Contains((topic, partition, offset, fingerprint));

    /// <summary>Forgets everything (the subscription reads its durable cursor again).</summary>
    public void Clear()
    {
        _seen.Clear();
        _order.Clear();
    }
}
