using System.Collections.Concurrent;

namespace Halfhour.Broker.Delivery;

/// <summary>A message as every recipient receives it (not a replay): the same bytes for each, so they are made once.</summary>
/// <param name="TransactionId">The message's transaction ID.</param>
/// <param name="Mpan">The MPAN core it is about, or empty.</param>
/// <param name="Bytes">The message with A0 and D0 stamped, as JSON. Shared: never written to.</param>
public sealed record StampedMessage(string TransactionId, string Mpan, byte[] Bytes);

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
    /// 64 MiB: about half a second of the whole market's peak (33,000 IF-021 messages a second of ~3.5 KB), more than
    /// the spread between the first and the last recipient taking the same message when all keep up.
    /// </summary>
    public const long DefaultCapacityBytes = 64L << 20;

    /// <summary>How long an entry not taken by all its recipients is kept at most.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<(string Topic, int Partition, long Offset), Entry> _messages = new();
    private readonly ConcurrentQueue<((string Topic, int Partition, long Offset) Key, long AddedAt)> _order = new();
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
        if (Interlocked.Decrement(ref entry.Takers) == 0 && _messages.TryRemove(new KeyValuePair<(string, int, long), Entry>(key, entry)))
        {
            Interlocked.Add(ref _bytes, -entry.Message.Bytes.Length);
        }

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
        if (_capacityBytes == 0 || !_messages.TryAdd(key, new Entry(message, takers)))
        {
            return;
        }

        var now = Environment.TickCount64;
        _order.Enqueue((key, now));
        var bytes = Interlocked.Add(ref _bytes, message.Bytes.Length);
        var tooOld = now - (long)MaxAge.TotalMilliseconds;

        // The queue also holds keys of entries taken by all their recipients; they leave it here, as they reach its head.
        while (_order.TryPeek(out var oldest) && (bytes > _capacityBytes || oldest.AddedAt < tooOld || !_messages.ContainsKey(oldest.Key)))
        {
            if (!_order.TryDequeue(out oldest))
            {
                break;
            }

            bytes = _messages.TryRemove(oldest.Key, out var evicted) ? Interlocked.Add(ref _bytes, -evicted.Message.Bytes.Length) : Interlocked.Read(ref _bytes);
        }
    }

    private sealed class Entry(StampedMessage message, int takers)
    {
        public readonly StampedMessage Message = message;
        public int Takers = takers;
    }
}
