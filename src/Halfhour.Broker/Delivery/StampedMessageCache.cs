using System.Collections.Concurrent;
using Halfhour.Broker.Messages;

namespace Halfhour.Broker.Delivery;

/// <summary>A message as every recipient receives it (not a replay): the same bytes for each, so they are made once.</summary>
/// <param name="TransactionId">The message's transaction ID.</param>
/// <param name="Mpan">The MPAN core it is about, or empty.</param>
/// <param name="Bytes">The message with A0 and D0 stamped, as JSON. Shared: never written to.</param>
public sealed record StampedMessage(string TransactionId, string Mpan, byte[] Bytes)
{
    /// <summary>The stored record's <see cref="InboxPointer.FingerprintOf"/>, which a reader checks against its pointer's; null when not known.</summary>
    public ulong? Fingerprint { get; init; }
}

/// <summary>
/// The stamped copies of recently accepted messages, shared by every recipient's subscription: a consumption
/// message goes to six or more recipients, who pull it at about the same time, so it is read from the store,
/// checksummed, decrypted and stamped once rather than once per recipient. An entry leaves when the last of its
/// recipients has taken it, so under a market that keeps up the cache holds only messages in flight, and the
/// copies die young instead of filling the old generation of the heap (whose collections then pause every
/// request); entries not all taken leave oldest first when the cache is over its bytes or older than
/// <see cref="MaxAge"/>. A recipient that lags further behind reads from the store. Thread-safe.
/// </summary>
public sealed class StampedMessageCache
{
    /// <summary>
    /// 256 MiB: about 1.6 s of the whole market's peak (33,000 IF-021 messages a second of ~4.8 KB stamped), more than the
    /// spread between the first and the last recipient taking the same message when all keep up. At 64 MiB (~14,000
    /// stamped IF-021) <c>bench dip</c>'s recipients, pulling up to 1,000 at a time on a busy machine, fell behind by more
    /// than the cache held: 12-23% of copies were read back from the store and stamped again, ~4% of the server's CPU.
    /// </summary>
    public const long DefaultCapacityBytes = 256L << 20;

    /// <summary>How long an entry not taken by all its recipients is kept at most.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The most evicted entries whose recipients still to come are remembered, the oldest forgotten first: by arithmetic
    /// ~80 bytes each with its dictionary and queue entries, ~20 MiB when full (not measured).
    /// </summary>
    public const int MaxRemembered = 1 << 18;

    private readonly ConcurrentDictionary<(string Topic, int Partition, long Offset), Entry> _messages = new(PlaceComparer.Instance);
    private readonly ConcurrentQueue<((string Topic, int Partition, long Offset) Key, long AddedAt)> _order = new();
    private readonly ConcurrentDictionary<(string Topic, int Partition, long Offset), (Entry Entry, long EvictedAt)> _evicted = new(PlaceComparer.Instance);
    private readonly ConcurrentQueue<((string Topic, int Partition, long Offset) Key, long EvictedAt)> _evictedOrder = new();
    private readonly long _capacityBytes;
    private long _bytes;

    /// <summary>Creates a cache that holds at most <paramref name="capacityBytes"/> of stamped messages.</summary>
    public StampedMessageCache(long capacityBytes = DefaultCapacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        _capacityBytes = capacityBytes;
    }

    /// <summary>How many messages the cache holds.</summary>
    public int Count => _messages.Count;

    /// <summary>
    /// The stamped message stored at <paramref name="topic"/>/<paramref name="partition"/>@<paramref name="offset"/>, when
    /// cached; taking it counts as one of its recipients served.
    /// </summary>
    public bool TryGet(string topic, int partition, long offset, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StampedMessage? message)
    {
        var key = (topic, partition, offset);
        if (!_messages.TryGetValue(key, out var entry))
        {
            message = null;
            return false;
        }

        message = entry.Message;
        Take(key, entry);
        return true;
    }

    /// <summary>
    /// Keeps a stamped message for <paramref name="takers"/> recipients (unknown: kept until it is the oldest and the
    /// cache is full, or too old), evicting the oldest while the cache is over its capacity.
    /// </summary>
    public void Add(string topic, int partition, long offset, StampedMessage message, int takers = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(takers);
        var key = (topic, partition, offset);
        var entry = new Entry(message, takers);
        if (_capacityBytes != 0 && _messages.TryAdd(key, entry))
        {
            Admitted(key, entry);
        }
    }

    /// <summary>
    /// After a miss, a recipient stamped the message again from the store and takes it now: the copy is kept for those of
    /// the message's recipients who have not taken it yet. When its entry was evicted before all took it, the cache
    /// remembers how many were still to come; otherwise (a message not cached since a restart, or accepted by another
    /// node) its other <paramref name="takers"/> - 1 recipients are likely as far behind as this one. Keeping it for all
    /// of them again, as before, kept copies nobody would take, which filled the cache and pushed out copies recipients
    /// that kept up had still to take: in <c>bench dip</c>, evictions of copies not yet taken by all halved once it stopped.
    /// </summary>
    public void Restore(string topic, int partition, long offset, StampedMessage message, int takers)
    {
        ArgumentNullException.ThrowIfNull(message);
        var key = (topic, partition, offset);
        if (_messages.TryGetValue(key, out var cached))
        {
            Take(key, cached); // another recipient restored it first: this one has taken its copy
            return;
        }

        var stillToCome = (_evicted.TryRemove(key, out var evicted) ? Volatile.Read(ref evicted.Entry.Takers) : takers) - 1;
        if (stillToCome > 0)
        {
            Add(topic, partition, offset, message, stillToCome);
        }
    }

    private void Take((string Topic, int Partition, long Offset) key, Entry entry)
    {
        if (Interlocked.Decrement(ref entry.Takers) == 0 && _messages.TryRemove(new KeyValuePair<(string, int, long), Entry>(key, entry)))
        {
            Interlocked.Add(ref _bytes, -entry.Message.Bytes.Length);
        }
    }

    private void Admitted((string Topic, int Partition, long Offset) key, Entry entry)
    {
        var now = Environment.TickCount64;
        _order.Enqueue((key, now));
        var bytes = Interlocked.Add(ref _bytes, entry.Message.Bytes.Length);
        var tooOld = now - (long)MaxAge.TotalMilliseconds;

        // The queue also holds keys of entries taken by all their recipients; they leave it here, as they reach its head.
        while (_order.TryPeek(out var oldest) && (bytes > _capacityBytes || oldest.AddedAt < tooOld || !_messages.ContainsKey(oldest.Key)))
        {
            if (!_order.TryDequeue(out oldest))
            {
                break;
            }

            if (!_messages.TryRemove(oldest.Key, out var gone))
            {
                bytes = Interlocked.Read(ref _bytes);
                continue;
            }

            bytes = Interlocked.Add(ref _bytes, -gone.Message.Bytes.Length);
            if (Volatile.Read(ref gone.Takers) is > 0 and < int.MaxValue)
            {
                Remember(oldest.Key, gone, now);
            }
        }
    }

    /// <summary>Remembers how many recipients an evicted entry still had to come (not its bytes), for <see cref="Restore"/>.</summary>
    private void Remember((string Topic, int Partition, long Offset) key, Entry gone, long now)
    {
        _evicted[key] = (gone, now);
        _evictedOrder.Enqueue((key, now));
        var tooOld = now - (long)MaxAge.TotalMilliseconds;
        while (_evictedOrder.TryPeek(out var oldest) && (oldest.EvictedAt < tooOld || _evictedOrder.Count > MaxRemembered))
        {
            if (_evictedOrder.TryDequeue(out oldest) && _evicted.TryGetValue(oldest.Key, out var remembered) && remembered.EvictedAt == oldest.EvictedAt)
            {
                _evicted.TryRemove(new KeyValuePair<(string, int, long), (Entry, long)>(oldest.Key, remembered));
            }
        }
    }

    /// <summary>How many recipients take a message's stamped copy: its different recipients (one named in several tiers takes it once), at least one.</summary>
    public static int TakersOf(StoredMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        ReadOnlySpan<IReadOnlyList<string>> tiers = [message.Primary, message.Secondary, message.Always];
        var count = 0;
        for (var t = 0; t < tiers.Length; t++)
        {
            for (var i = 0; i < tiers[t].Count; i++)
            {
                if (!NamedBefore(tiers, t, i))
                {
                    count++;
                }
            }
        }

        return Math.Max(1, count);
    }

    /// <summary>Whether recipient <paramref name="index"/> of tier <paramref name="tier"/> was named earlier (recipients are a handful: a scan).</summary>
    private static bool NamedBefore(ReadOnlySpan<IReadOnlyList<string>> tiers, int tier, int index)
    {
        var id = tiers[tier][index];
        for (var t = 0; t <= tier; t++)
        {
            var end = t == tier ? index : tiers[t].Count;
            for (var i = 0; i < end; i++)
            {
                if (string.Equals(tiers[t][i], id, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Compares places without hashing the topic name: every copy handed out looks its message up, and hashing the name
    /// each time was most of a lookup's cost. Places differ by partition and offset far more than by topic (a topic
    /// string is usually the very same instance, compared by reference first).
    /// </summary>
    private sealed class PlaceComparer : IEqualityComparer<(string Topic, int Partition, long Offset)>
    {
        public static readonly PlaceComparer Instance = new();

        public bool Equals((string Topic, int Partition, long Offset) x, (string Topic, int Partition, long Offset) y) =>
            x.Offset == y.Offset && x.Partition == y.Partition && string.Equals(x.Topic, y.Topic, StringComparison.Ordinal);

        public int GetHashCode((string Topic, int Partition, long Offset) place) => HashCode.Combine(place.Partition, place.Offset);
    }

    private sealed class Entry(StampedMessage message, int takers)
    {
        public readonly StampedMessage Message = message;
        public int Takers = takers;
    }
}
