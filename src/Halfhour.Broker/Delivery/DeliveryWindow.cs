namespace Halfhour.Broker.Delivery;

/// <summary>What became of an inbox record the subscription has read.</summary>
internal enum SlotState : byte
{
    /// <summary>Handed out and not acknowledged yet.</summary>
    Leased,

    /// <summary>Acknowledged, waiting for the records before it to be acknowledged too.</summary>
    Acked,

    /// <summary>A pointer written twice (the indexer resumed after a crash): never handed out, counts as acknowledged.</summary>
    Skipped,
}

/// <summary>One inbox record read by a subscription: where its message is stored, and its lease.</summary>
/// <param name="Topic">The subscription's number for the interface topic (see <see cref="RecipientSubscription"/>).</param>
/// <param name="Partition">The partition of the interface topic.</param>
/// <param name="EventOffset">The message's offset in that partition.</param>
/// <param name="VisibleAgainAt">When an unacknowledged message is handed out again (UTC ticks).</param>
/// <param name="Count">How many times it has been handed out.</param>
/// <param name="State">Leased, acknowledged or skipped.</param>
internal readonly record struct Slot(int Topic, int Partition, long EventOffset, long VisibleAgainAt, int Count, SlotState State);

/// <summary>
/// The inbox records a subscription has read and not yet acknowledged without a gap: the inbox offsets
/// [<see cref="Start"/>, <see cref="End"/>), dense, one slot each, in a ring that grows as needed. Replaces a
/// sorted map and an object per handed-out copy: reading, acknowledging and advancing are array operations,
/// and a healthy recipient's fetch does not scan its leases (see <see cref="EarliestExpiry"/>). Not thread-safe:
/// the subscription's gate guards it.
/// </summary>
internal sealed class DeliveryWindow
{
    private Slot[] _slots = new Slot[64];
    private int _head;
    private int _count;

    /// <summary>The first inbox offset not acknowledged: every record before it is acknowledged or skipped.</summary>
    public long Start { get; private set; }

    /// <summary>The next inbox offset to read.</summary>
    public long End => Start + _count;

    /// <summary>Records in the window acknowledged or skipped (waiting for a gap before them to close).</summary>
    public int Settled { get; private set; }

    /// <summary>Records in the window handed out and not acknowledged.</summary>
    public int Leased => _count - Settled;

    /// <summary>
    /// No lease expires before this (UTC ticks): a lower bound, exact after <see cref="TakeExpired"/>, so a fetch
    /// looks for expired leases only when one may have expired.
    /// </summary>
    public long EarliestExpiry { get; private set; } = long.MaxValue;

    /// <summary>Empties the window, which then starts at <paramref name="start"/>.</summary>
    public void Reset(long start)
    {
        Array.Clear(_slots);
        _head = 0;
        _count = 0;
        Settled = 0;
        Start = start;
        EarliestExpiry = long.MaxValue;
    }

    /// <summary>Appends the record at <see cref="End"/>.</summary>
    public void Add(Slot slot)
    {
        if (_count == _slots.Length)
        {
            Grow();
        }

        _slots[(_head + _count) % _slots.Length] = slot;
        _count++;
        if (slot.State == SlotState.Leased)
        {
            EarliestExpiry = Math.Min(EarliestExpiry, slot.VisibleAgainAt);
        }
        else
        {
            Settled++;
        }
    }

    /// <summary>The leased record at inbox offset <paramref name="offset"/>, when there is one.</summary>
    public bool TryGetLeased(long offset, out Slot slot)
    {
        if (offset >= Start && offset < End)
        {
            slot = _slots[IndexOf(offset)];
            return slot.State == SlotState.Leased;
        }

        slot = default;
        return false;
    }

    /// <summary>Replaces the record at inbox offset <paramref name="offset"/> (which must be in the window).</summary>
    public void Set(long offset, Slot slot)
    {
        ref var current = ref _slots[IndexOf(offset)];
        if (current.State == SlotState.Leased && slot.State != SlotState.Leased)
        {
            Settled++;
        }

        current = slot;
        if (slot.State == SlotState.Leased)
        {
            EarliestExpiry = Math.Min(EarliestExpiry, slot.VisibleAgainAt);
        }
    }

    /// <summary>Removes the first record when it is acknowledged or skipped, moving <see cref="Start"/> past it.</summary>
    public bool TryTakeSettled(out Slot slot)
    {
        slot = _slots[_head];
        if (_count == 0 || slot.State == SlotState.Leased)
        {
            return false;
        }

        _slots[_head] = default;
        _head = (_head + 1) % _slots.Length;
        _count--;
        Settled--;
        Start++;
        return true;
    }

    /// <summary>
    /// Adds to <paramref name="expired"/> the inbox offsets (oldest first) of up to <paramref name="max"/> leases expired
    /// at <paramref name="now"/>, and makes <see cref="EarliestExpiry"/> exact for the leases it did not take.
    /// </summary>
    public void TakeExpired(long now, int max, List<long> expired)
    {
        if (now < EarliestExpiry)
        {
            return;
        }

        var earliest = long.MaxValue;
        for (var i = 0; i < _count; i++)
        {
            var slot = _slots[(_head + i) % _slots.Length];
            if (slot.State != SlotState.Leased)
            {
                continue;
            }

            if (slot.VisibleAgainAt <= now && expired.Count < max)
            {
                expired.Add(Start + i);
            }
            else
            {
                earliest = Math.Min(earliest, slot.VisibleAgainAt);
            }
        }

        EarliestExpiry = earliest;
    }

    private int IndexOf(long offset) => (int)((_head + (offset - Start)) % _slots.Length);

    private void Grow()
    {
        var larger = new Slot[_slots.Length * 2];
        for (var i = 0; i < _count; i++)
        {
            larger[i] = _slots[(_head + i) % _slots.Length];
        }

        _slots = larger;
        _head = 0;
    }
}
