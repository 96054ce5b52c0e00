using System.Collections.Concurrent;

namespace Halfhour.Broker.Delivery;

/// <summary>A message as every recipient receives it (not a replay): the same bytes for each, so they are made once.</summary>
/// <param name="TransactionId">The message's transaction ID.</param>
/// <param name="Mpan">The MPAN core it is about, or empty.</param>
/// <param name="Bytes">The message with A0 and D0 stamped, as JSON. Shared: never written to.</param>
public sealed record StampedMessage(string TransactionId, string Mpan, byte[] Bytes);

/// <summary>
/// The stamped copies of recently delivered messages, shared by every recipient's subscription: a consumption
/// message goes to six or more recipients, who pull it at about the same time, so it is read from the store,
/// checksummed, decrypted and stamped once rather than once per recipient. Bounded by bytes, oldest out first;
/// a recipient that lags further behind than the cache holds reads from the store (and refills the cache for
/// those behind it). Thread-safe.
/// </summary>
public sealed class StampedMessageCache
{
    /// <summary>
    /// 256 MiB: about two seconds of the whole market's peak (33,000 IF-021 messages a second of ~3.5 KB), the spread
    /// between the first and the last recipient pulling the same message when all keep up.
    /// </summary>
    public const long DefaultCapacityBytes = 256L << 20;

    private readonly ConcurrentDictionary<(string Topic, int Partition, long Offset), StampedMessage> _messages = new();
    private readonly ConcurrentQueue<(string Topic, int Partition, long Offset)> _order = new();
    private readonly long _capacityBytes;
    private long _bytes;

    /// <summary>Creates a cache that holds at most <paramref name="capacityBytes"/> of stamped messages.</summary>
    public StampedMessageCache(long capacityBytes = DefaultCapacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        _capacityBytes = capacityBytes;
    }

    /// <summary>The stamped message stored at <paramref name="topic"/>/<paramref name="partition"/>@<paramref name="offset"/>, when cached.</summary>
    public bool TryGet(string topic, int partition, long offset, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StampedMessage? message)
        => _messages.TryGetValue((topic, partition, offset), out message);

    /// <summary>Keeps a stamped message, evicting the oldest while the cache is over its capacity.</summary>
    public void Add(string topic, int partition, long offset, StampedMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_capacityBytes == 0 || !_messages.TryAdd((topic, partition, offset), message))
        {
            return;
        }

        _order.Enqueue((topic, partition, offset));
        var bytes = Interlocked.Add(ref _bytes, message.Bytes.Length);
        while (bytes > _capacityBytes && _order.TryDequeue(out var oldest))
        {
            bytes = _messages.TryRemove(oldest, out var evicted) ? Interlocked.Add(ref _bytes, -evicted.Bytes.Length) : Interlocked.Read(ref _bytes);
        }
    }
}
