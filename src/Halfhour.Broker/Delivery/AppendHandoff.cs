using System.Collections.Concurrent;
using Halfhour.Broker.Storage;

namespace Halfhour.Broker.Delivery;

/// <summary>One accepted event as the inbox indexer needs it, handed over in memory by the appender that stored it.</summary>
/// <param name="Offset">Its offset in its partition.</param>
/// <param name="Key">Its key as stored (the MPAN's ASCII bytes).</param>
/// <param name="Fingerprint">Its value's <see cref="InboxPointer.FingerprintOf"/>, taken while the appender held the value (it reuses the buffer after).</param>
/// <param name="Recipients">Its recipients' DIP IDs as stored, every tier in order (as <c>StoredMessage.FindRecipients</c> finds them).</param>
internal readonly record struct AppendedEvent(long Offset, ReadOnlyMemory<byte> Key, ulong Fingerprint, string[] Recipients);

/// <summary>
/// Hands accepted events from the appenders (the publish pipeline, the status message publisher) to the inbox indexer in
/// memory, right after their durable append, so the indexer need not read back, decrypt, decompress and re-scan what was
/// just written. One lane per followed topic partition holds events in offset order, bounded: an appender never waits
/// for the indexer, and what does not fit is dropped, to be read from the store instead.
/// An appender announces each append before it starts (<see cref="Begin"/>), so an indexer that sees a new record in
/// the store knows whether an append of this process may still hand it over, and waits for that append rather than
/// reading the record back; appends begun after the record was seen cannot hold it, so the wait is bounded.
/// Failure semantics: nothing here is durable or trusted for order across processes. The indexer takes an event from a
/// lane only when its offset is exactly the indexer's position, and reads the store whenever the lane does not start
/// there (a restart, another appender, an overflow, a failed append), so a lost or dropped hand-off costs a read, never a
/// pointer. Used only over stores whose append offsets always name the records just written
/// (<see cref="IEventStore.AppendsAreExact"/>).
/// </summary>
internal sealed class AppendHandoff(int capacity)
{
    /// <summary>
    /// 2,048 events per partition: five of the indexer's 1 MiB store rounds of consumption messages, so bursts of a busy
    /// partition fit while the indexer appends the previous round's pointers, and a stalled indexer holds at most a few
    /// hundred KiB per partition (events share their key and recipient arrays with the append).
    /// </summary>
    public const int DefaultCapacity = 2048;

    private readonly ConcurrentDictionary<(string Topic, int Partition), Lane> _lanes = new();
    private long _dropped;

    /// <summary>How many events were not handed over because their lane was full (the indexer read them from the store).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The lane of a topic partition, created when the indexer starts following it.</summary>
    public Lane Open(string topic, int partition) => _lanes.GetOrAdd((topic, partition), _ => new Lane(this, capacity));

    /// <summary>
    /// Announces an append of <paramref name="writes"/> before it is started: every followed partition they touch is told
    /// an append is under way. Complete the returned hand-off with the offsets, or dispose it when the append failed.
    /// </summary>
    public PendingHandoff Begin(IReadOnlyList<EventWrite> writes)
    {
        var lanes = new Lane?[writes.Count];
        var begun = new List<(Lane Lane, long Ticket)>(4);
        for (var i = 0; i < writes.Count; i++)
        {
            if (_lanes.TryGetValue((writes[i].Topic, writes[i].Partition), out var lane))
            {
                lanes[i] = lane;
                if (!IsBegun(begun, lane))
                {
                    begun.Add((lane, lane.Begin()));
                }
            }
        }

        return new PendingHandoff(lanes, begun);
    }

    /// <summary>Whether an append already announced itself to a lane; a batch touches a few partitions, so a scan.</summary>
    private static bool IsBegun(List<(Lane Lane, long Ticket)> begun, Lane lane)
    {
        foreach (var (each, _) in begun)
        {
            if (each == lane)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One append announced to the lanes it touches; ends each lane's announcement exactly once.</summary>
    internal sealed class PendingHandoff(Lane?[] lanes, List<(Lane Lane, long Ticket)> begun) : IDisposable
    {
        private bool _ended;

        /// <summary>
        /// Hands the appended events over: each write with recipients whose partition is followed, at the offset the store gave it.
        /// </summary>
        /// <param name="writes">The writes appended, as given to <see cref="Begin"/>.</param>
        /// <param name="offsets">The offsets the store answered, one per write.</param>
        /// <param name="recipients">Per write, its recipients as stored; null for a write that is no message (the audit record).</param>
        /// <param name="fingerprints">Per write, its value's <see cref="InboxPointer.FingerprintOf"/> when the appender has taken it already; taken here otherwise.</param>
        public void Complete(IReadOnlyList<EventWrite> writes, long[] offsets, string[]?[] recipients, ulong[]? fingerprints = null)
        {
            if (_ended)
            {
                return;
            }

            _ended = true;
            foreach (var (lane, ticket) in begun)
            {
                lane.End(ticket, lanes, writes, offsets, recipients, fingerprints);
            }
        }

        /// <summary>Ends the announcement without handing anything over (the append failed), unless it was completed.</summary>
        public void Dispose()
        {
            if (_ended)
            {
                return;
            }

            _ended = true;
            foreach (var (lane, ticket) in begun)
            {
                lane.End(ticket, lanes, [], [], [], null);
            }
        }
    }

    /// <summary>The events handed over for one topic partition, in offset order, and the appends to it under way.</summary>
    internal sealed class Lane(AppendHandoff owner, int capacity)
    {
        private readonly PriorityQueue<AppendedEvent, long> _events = new();
        private readonly List<long> _open = [];
        private readonly Lock _lock = new();
        private long _begun;
        private TaskCompletionSource? _ended;

        /// <summary>How many events the lane holds now.</summary>
        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return _events.Count;
                }
            }
        }

        /// <summary>
        /// Takes the events that continue exactly at <paramref name="position"/>, in offset order, into <paramref name="taken"/>
        /// (cleared first), after discarding those before it (already indexed from the store). True when it took any.
        /// </summary>
        public bool TryTake(long position, List<AppendedEvent> taken)
        {
            taken.Clear();
            lock (_lock)
            {
                while (_events.TryPeek(out var next, out var offset) && offset <= position)
                {
                    _events.Dequeue();
                    if (offset == position)
                    {
                        taken.Add(next);
                        position++;
                    }
                }
            }

            return taken.Count > 0;
        }

        /// <summary>
        /// Completes once every append to this partition announced before the call has ended (at once when there is none):
        /// one of them may be about to hand over the record the caller has just seen in the store.
        /// </summary>
        public ValueTask WaitForAppendsBegunAsync(CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                return _open.Count == 0 ? ValueTask.CompletedTask : new ValueTask(WaitForOpenAsync(_begun, cancellationToken));
            }
        }

        internal long Begin()
        {
            lock (_lock)
            {
                _open.Add(++_begun);
                return _begun;
            }
        }

        internal void End(long ticket, Lane?[] lanes, IReadOnlyList<EventWrite> writes, long[] offsets, string[]?[] recipients, ulong[]? fingerprints)
        {
            TaskCompletionSource? ended;
            var dropped = 0;
            lock (_lock)
            {
                for (var i = 0; i < offsets.Length; i++)
                {
                    if (lanes[i] != this || recipients[i] is not { } to)
                    {
                        continue;
                    }

                    if (_events.Count < capacity)
                    {
                        _events.Enqueue(new AppendedEvent(offsets[i], writes[i].Key, fingerprints?[i] ?? InboxPointer.FingerprintOf(writes[i].Value.Span), to), offsets[i]);
                    }
                    else
                    {
                        dropped++;
                    }
                }

                _open.Remove(ticket);
                ended = _ended;
                _ended = null;
            }

            if (dropped > 0)
            {
                Interlocked.Add(ref owner._dropped, dropped);
            }

            ended?.TrySetResult();
        }

        private async Task WaitForOpenAsync(long announced, CancellationToken cancellationToken)
        {
            while (true)
            {
                Task ended;
                lock (_lock)
                {
                    if (!_open.Exists(ticket => ticket <= announced))
                    {
                        return;
                    }

                    ended = (_ended ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                }

                await ended.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
