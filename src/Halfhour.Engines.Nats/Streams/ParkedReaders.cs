using System.Collections.Concurrent;
using NATS.Client.JetStream;

namespace Halfhour.Engines.Nats.Streams;

/// <summary>
/// A partition reader's consumer, kept between reads so a reader that reads on from where it stopped (the tail reader of a
/// wide topic catching up, a recipient's deliveries following its pointers) creates one consumer per leader, not one per
/// read. A consumer create goes through nats-server 2.9's meta leader, and 2.9 places it on a random peer of the stream, of
/// which only the leader's is read: one per read cost three creates and three deletes a useful read when behind, and
/// loaded the meta layer the whole cluster shares.
/// </summary>
/// <param name="Consumer">The consumer, on the stream's leader when created.</param>
/// <param name="Next">The stream sequence it delivers next.</param>
/// <param name="Delivered">Its deliveries so far: the next must be numbered one more (a gap is a record lost in the client).</param>
/// <param name="Epoch">The stream's leader changes heard of before it was created (<see cref="LeaderChanges.Of"/>).</param>
/// <param name="FetchedAt">When it last fetched (<see cref="Environment.TickCount64"/>): the server reaps it idle after its inactive threshold.</param>
internal sealed record ParkedReader(INatsJSConsumer Consumer, ulong Next, ulong Delivered, long Epoch, long FetchedAt);

/// <summary>
/// The parked readers of a store, by partition subject and the sequence each delivers next: several readers of one
/// partition at different places each find their own. A reader is taken out for a read and parked again after it, so two
/// reads never share one. One that does not fit a read that takes it (a leader change since, idle long enough that the
/// server may have reaped it) is deleted; so are those left idle, and the oldest beyond <paramref name="capacity"/>.
/// </summary>
internal sealed class ParkedReaders(Func<INatsJSConsumer, ValueTask> delete, TimeSpan idleLimit, int capacity)
{
    private readonly ConcurrentDictionary<(string Subject, ulong Next), ParkedReader> _readers = new();
    private long _sweptAt = Environment.TickCount64;

    /// <summary>How many are parked now.</summary>
    public int Count => _readers.Count;

    /// <summary>
    /// The reader parked for <paramref name="subject"/> that delivers <paramref name="next"/> next, if it was created in this
    /// leader <paramref name="epoch"/> and fetched recently; otherwise null, and one parked there that does not fit is deleted.
    /// </summary>
    public async ValueTask<ParkedReader?> TakeAsync(string subject, ulong next, long epoch)
    {
        if (!_readers.TryRemove((subject, next), out var parked))
        {
            return null;
        }

        if (parked.Epoch == epoch && !IsIdle(parked, Environment.TickCount64))
        {
            return parked;
        }

        await delete(parked.Consumer);
        return null;
    }

    /// <summary>
    /// Parks <paramref name="reader"/> for the read of <paramref name="subject"/> that starts where it stands; deletes it if one
    /// is parked there already. At most once a second, deletes the readers left idle and the oldest beyond the capacity.
    /// </summary>
    public async ValueTask ParkAsync(string subject, ParkedReader reader)
    {
        if (!_readers.TryAdd((subject, reader.Next), reader))
        {
            await delete(reader.Consumer);
        }

        var now = Environment.TickCount64;
        if (now - Interlocked.Read(ref _sweptAt) < 1000 && _readers.Count <= capacity)
        {
            return;
        }

        Interlocked.Exchange(ref _sweptAt, now);
        var parked = _readers.ToArray();
        var beyond = parked.Length - capacity;
        foreach (var (key, value) in parked.OrderBy(p => p.Value.FetchedAt))
        {
            if ((beyond-- > 0 || IsIdle(value, now)) && _readers.TryRemove(key, out var removed))
            {
                await delete(removed.Consumer);
            }
        }
    }

    /// <summary>Deletes every parked reader (the store closing).</summary>
    public async ValueTask DeleteAllAsync()
    {
        foreach (var key in _readers.Keys)
        {
            if (_readers.TryRemove(key, out var parked))
            {
                await delete(parked.Consumer);
            }
        }
    }

    private bool IsIdle(ParkedReader reader, long now) => now - reader.FetchedAt >= (long)idleLimit.TotalMilliseconds;
}
