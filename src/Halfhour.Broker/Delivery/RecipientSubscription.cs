using System.Globalization;
using Halfhour.Broker.Messages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Participants;

namespace Halfhour.Broker.Delivery;

/// <summary>A message handed to a recipient: its receipt (to acknowledge it), its transaction ID and the stamped bytes.</summary>
/// <param name="Receipt">What the recipient sends back to acknowledge the message.</param>
/// <param name="TransactionId">The message's transaction ID.</param>
/// <param name="Mpan">The MPAN core it is about, or empty.</param>
/// <param name="Message">The message with A0 and D0 stamped, as JSON.</param>
/// <param name="DeliveryCount">How many times it has been handed out, this one included (since the broker started).</param>
public sealed record Delivery(string Receipt, string TransactionId, string Mpan, byte[] Message, int DeliveryCount);

/// <summary>
/// A recipient's durable position in what is routed to it: reads its inbox, hands messages out under a
/// lease (they come back when not acknowledged within the visibility timeout), and records
/// acknowledgements as a durable cursor. At least once: after a crash, what was handed out but not
/// acknowledged is handed out again, with the same transaction ID.
/// Failure semantics: the cursor (the first inbox offset not acknowledged, plus per event partition the
/// highest event offset acknowledged) is committed atomically by each <see cref="AckAsync"/>; a crash
/// loses only leases, never acknowledgements.
/// </summary>
public sealed class RecipientSubscription : IDisposable
{
    /// <summary>Read the inbox 64 KiB at a time: ~2,000 pointers, more than any fetch asks for.</summary>
    private const int InboxReadBytes = 64 << 10;

    /// <summary>Read events 256 KiB at a time: consecutive pointers usually land in the same stored batch, read once.</summary>
    private const int EventReadBytes = 256 << 10;

    private readonly IEventStore _store;
    private readonly MessageStamper _stamper;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SortedDictionary<long, Lease> _leases = [];
    private readonly SortedDictionary<long, EventRef?> _ackedAhead = [];
    private readonly Dictionary<(string Topic, int Partition), long> _handedOutHighWater = [];
    private readonly Dictionary<(string Topic, int Partition), long> _ackedHighWater = [];
    private readonly StoredEventReader _events;
    private readonly StampedMessageCache _stamped;
    private long _ackedThrough;
    private long _readPosition;
    private bool _loaded;

    /// <summary>
    /// Creates the subscription of <paramref name="dipId"/> to <paramref name="interfaceId"/> in <paramref name="environment"/>;
    /// <paramref name="stamped"/> is the cache of stamped messages it shares with the other recipients' subscriptions (its own when null).
    /// </summary>
    public RecipientSubscription(IEventStore store, InterfaceCatalogue catalogue, MarketEnvironment environment, string dipId, string interfaceId, TimeSpan visibilityTimeout, TimeProvider time,
        StampedMessageCache? stamped = null)
    {
        _stamped = stamped ?? new StampedMessageCache(0);
        InterfaceId = interfaceId;
        _store = store;
        _stamper = new MessageStamper(catalogue);
        _events = new StoredEventReader(store);
        _time = time;
        Environment = environment;
        DipId = dipId;
        VisibilityTimeout = visibilityTimeout;
        InboxTopic = TopicLayout.InboxTopic(environment, dipId, interfaceId);
        CursorName = $"sub.{dipId}.{interfaceId}";
    }

    /// <summary>The recipient's environment.</summary>
    public MarketEnvironment Environment { get; }

    /// <summary>The recipient's DIP ID.</summary>
    public string DipId { get; }

    /// <summary>The interface (DIP channel) the subscription delivers.</summary>
    public string InterfaceId { get; }

    /// <summary>The recipient's inbox topic.</summary>
    public string InboxTopic { get; }

    /// <summary>The name of the subscription's cursors.</summary>
    public string CursorName { get; }

    /// <summary>How long a handed-out message stays invisible to other fetches before it is handed out again.</summary>
    public TimeSpan VisibilityTimeout { get; }

    /// <summary>
    /// Hands out up to <paramref name="max"/> messages: first those whose lease expired, then new ones in
    /// inbox order. Waits up to <paramref name="wait"/> for a first message when none is ready.
    /// </summary>
    public async Task<IReadOnlyList<Delivery>> FetchAsync(int max, TimeSpan wait, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        var deadline = _time.GetUtcNow() + wait;
        while (true)
        {
            var deliveries = await TryFetchAsync(max, cancellationToken);
            var left = deadline - _time.GetUtcNow();
            if (deliveries.Count > 0 || left <= TimeSpan.Zero)
            {
                return deliveries;
            }

            // Wait without polling for the inbox to grow, or for a lease to expire, whichever is first.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Min(left, NextLeaseExpiry() ?? left));
            try
            {
                await _store.WaitForAsync(InboxTopic, 0, _readPosition, timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }
        }
    }

    /// <summary>
    /// Acknowledges handed-out messages by receipt and durably moves the cursor past every message
    /// acknowledged without a gap. Returns how many receipts were known (unknown or repeated ones are ignored).
    /// </summary>
    public async Task<int> AckAsync(IReadOnlyList<string> receipts, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receipts);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await LoadAsync(cancellationToken);
            var known = 0;
            foreach (var receipt in receipts)
            {
                if (long.TryParse(receipt, NumberStyles.None, CultureInfo.InvariantCulture, out var offset) && _leases.Remove(offset, out var lease))
                {
                    known++;
                    _ackedAhead[offset] = new EventRef(lease.Topic, lease.Partition, lease.EventOffset);
                }
            }

            await AdvanceAsync(cancellationToken);
            return known;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Makes handed-out messages visible again after <paramref name="delay"/> (a recipient that could not take them).</summary>
    public async Task ReleaseAsync(IReadOnlyList<string> receipts, TimeSpan delay, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(receipts);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            var visibleAt = _time.GetUtcNow() + delay;
            foreach (var receipt in receipts)
            {
                if (long.TryParse(receipt, NumberStyles.None, CultureInfo.InvariantCulture, out var offset) && _leases.TryGetValue(offset, out var lease))
                {
                    _leases[offset] = lease with { VisibleAgainAt = visibleAt };
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Forgets what this node handed out and reads the durable cursor again on next use: for a node that has just
    /// taken the subscription over from another (which may have acknowledged more), or after a store failure left
    /// this node unsure what it handed out. Messages handed out and not acknowledged are handed out again.
    /// </summary>
    public async Task ReloadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            _loaded = false;
            _leases.Clear();
            _ackedAhead.Clear();
            _handedOutHighWater.Clear();
            _ackedHighWater.Clear();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>How many messages are routed to the recipient and not yet acknowledged.</summary>
    public async Task<long> BacklogAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await LoadAsync(cancellationToken);
            await _store.EnsureTopicAsync(new TopicSpec(InboxTopic, 1, TopicDurability.Derived), cancellationToken);
            var range = await _store.RangeAsync(InboxTopic, 0, cancellationToken);
            return range.Next - _ackedThrough - _ackedAhead.Count;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>True when the message at <paramref name="partition"/>/<paramref name="offset"/> of an interface was acknowledged by the recipient.</summary>
    public async Task<bool> IsAcknowledgedAsync(string interfaceId, int partition, long offset, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await LoadAsync(cancellationToken);
            var topic = TopicLayout.InterfaceTopic(Environment, interfaceId);
            return _ackedHighWater.TryGetValue((topic, partition), out var high) && offset <= high;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _events.Dispose();
        _gate.Dispose();
    }

    private async Task<List<Delivery>> TryFetchAsync(int max, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await LoadAsync(cancellationToken);
            var deliveries = new List<Delivery>(Math.Min(max, 256));
            var now = _time.GetUtcNow();

            // Expired leases first: they are the oldest messages the recipient has not taken.
            List<long>? expired = null;
            foreach (var (offset, lease) in _leases)
            {
                if (lease.VisibleAgainAt <= now)
                {
                    (expired ??= []).Add(offset);
                    if (expired.Count == max)
                    {
                        break;
                    }
                }
            }

            if (expired is not null)
            {
                foreach (var offset in expired)
                {
                    var lease = _leases[offset];
                    var stamped = await StampAsync(lease.Topic, lease.Partition, lease.EventOffset, cancellationToken);
                    _leases[offset] = lease with { VisibleAgainAt = now + VisibilityTimeout, Count = lease.Count + 1 };
                    deliveries.Add(new Delivery(Receipt(offset), stamped.TransactionId, stamped.Mpan, stamped.Bytes, lease.Count + 1));
                }
            }

            await ReadNewAsync(max - deliveries.Count, deliveries, now, cancellationToken);
            return deliveries;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ReadNewAsync(int max, List<Delivery> deliveries, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (max <= 0)
        {
            return;
        }

        await _store.EnsureTopicAsync(new TopicSpec(InboxTopic, 1, TopicDurability.Derived), cancellationToken);
        var taken = 0;
        while (taken < max)
        {
            using var inbox = await _store.ReadAsync(InboxTopic, 0, _readPosition, InboxReadBytes, cancellationToken);
            if (inbox.Events.Count == 0)
            {
                return;
            }

            foreach (var record in inbox.Events)
            {
                if (taken == max)
                {
                    return;
                }

                _readPosition = record.Offset + 1;
                var pointer = InboxPointer.Read(record.Value.Span);
                var topic = TopicLayout.InterfaceTopic(Environment, pointer.InterfaceId);
                var key = (topic, pointer.Partition);
                if (_handedOutHighWater.TryGetValue(key, out var high) && pointer.Offset <= high)
                {
                    // A pointer written twice (the indexer resumed after a crash): already handed out.
                    _ackedAhead[record.Offset] = null;
                    continue;
                }

                _handedOutHighWater[key] = pointer.Offset;
                var stamped = await StampAsync(topic, pointer.Partition, pointer.Offset, cancellationToken);
                _leases[record.Offset] = new Lease(topic, pointer.Partition, pointer.Offset, now + VisibilityTimeout, 1);
                deliveries.Add(new Delivery(Receipt(record.Offset), stamped.TransactionId, stamped.Mpan, stamped.Bytes, 1));
                taken++;
            }
        }
    }

    private async ValueTask<StampedMessage> StampAsync(string topic, int partition, long offset, CancellationToken cancellationToken)
    {
        if (_stamped.TryGet(topic, partition, offset, out var shared))
        {
            return shared;
        }

        var message = StoredMessage.Read(await ReadEventAsync(topic, partition, offset, cancellationToken));
        var (transactionId, bytes) = _stamper.Stamp(message, partition, offset, replay: false);
        var stamped = new StampedMessage(transactionId, message.Mpan, bytes);
        _stamped.Add(topic, partition, offset, stamped);
        return stamped;
    }

    private async Task<ReadOnlyMemory<byte>> ReadEventAsync(string topic, int partition, long offset, CancellationToken cancellationToken)
        => await _events.ReadAsync(topic, partition, offset, cancellationToken) ?? throw new InvalidDataException(
            $"Inbox {InboxTopic} points to {topic}/{partition}@{offset}, which the store does not hold (deleted by retention?).");

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (_loaded)
        {
            return;
        }

        _ackedThrough = 0;
        foreach (var cursor in await _store.GetCursorsAsync(CursorName, cancellationToken))
        {
            if (cursor.Topic == InboxTopic)
            {
                _ackedThrough = cursor.Offset;
            }
            else
            {
                _ackedHighWater[(cursor.Topic, cursor.Partition)] = cursor.Offset;
                _handedOutHighWater[(cursor.Topic, cursor.Partition)] = cursor.Offset;
            }
        }

        _readPosition = _ackedThrough;
        _loaded = true;
    }

    private async Task AdvanceAsync(CancellationToken cancellationToken)
    {
        // Only the gap-free prefix counts: per event partition, every pointer before the cursor is
        // acknowledged, so the highest event offset in the prefix bounds what the recipient has taken.
        var moved = false;
        while (_ackedAhead.Remove(_ackedThrough, out var acked))
        {
            if (acked is { } e)
            {
                var key = (e.Topic, e.Partition);
                _ackedHighWater[key] = Math.Max(_ackedHighWater.GetValueOrDefault(key, -1), e.Offset);
            }

            _ackedThrough++;
            moved = true;
        }

        if (!moved)
        {
            return;
        }

        var updates = new List<CursorUpdate>(1 + _ackedHighWater.Count) { new(CursorName, InboxTopic, 0, _ackedThrough) };
        foreach (var ((topic, partition), offset) in _ackedHighWater)
        {
            updates.Add(new CursorUpdate(CursorName, topic, partition, offset));
        }

        await _store.CommitCursorsAsync(updates, cancellationToken);
    }

    private TimeSpan? NextLeaseExpiry()
    {
        DateTimeOffset? next = null;
        foreach (var lease in _leases.Values)
        {
            if (next is null || lease.VisibleAgainAt < next)
            {
                next = lease.VisibleAgainAt;
            }
        }

        return next is { } at ? Max(at - _time.GetUtcNow(), TimeSpan.FromMilliseconds(1)) : null;
    }

    private static string Receipt(long inboxOffset) => inboxOffset.ToString(CultureInfo.InvariantCulture);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private readonly record struct EventRef(string Topic, int Partition, long Offset);

    private sealed record Lease(string Topic, int Partition, long EventOffset, DateTimeOffset VisibleAgainAt, int Count);
}
