using System.Globalization;
using System.Runtime.InteropServices;
using Halfhour.Broker.Messages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Participants;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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
/// Repeats: with several broker nodes every node's indexer writes a pointer to each message, in any interleaving. A
/// pointer is passed over only when its very message was handed out among the last <see cref="RecentPointers.Capacity"/>
/// (<see cref="RecentPointers"/>); nothing is inferred from offsets, so a message is handed out whichever pointer to it
/// is read first. A repeat met later than that, or after a reload (a takeover starts with nothing remembered: reading the
/// inbox back before the cursor cost tens of seconds of consumer creates in a failover), is handed out again, a
/// duplicate with the same transaction ID.
/// </summary>
public sealed class RecipientSubscription : IDisposable
{
    /// <summary>
    /// Read at most 64 KiB of the inbox at a time: ~2,000 pointers, more than any fetch asks for. A read is sized to the
    /// fetch (<see cref="InboxBytesFor"/>): reading 2,000 pointers to hand out 50 cost, on JetStream, a consumer create per
    /// webhook batch.
    /// </summary>
    private const int InboxReadBytes = 64 << 10;

    /// <summary>Read events 256 KiB at a time: consecutive pointers usually land in the same stored batch, read once.</summary>
    private const int EventReadBytes = 256 << 10;

    private readonly IEventStore _store;
    private readonly MessageStamper _stamper;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly DeliveryWindow _window = new();
    private readonly List<long> _expired = []; // a fetch's expired leases, reused (under the gate)
    private readonly RecentPointers _handedOut = new();
    private readonly Dictionary<(int Topic, int Partition), long> _ackedHighWater = [];

    // Interface topics by number, so a handed-out copy carries two integers rather than a topic name.
    private readonly List<string> _topics = [];
    private readonly Dictionary<string, int> _topicNumbers = new(StringComparer.Ordinal);
    private readonly byte[] _ownInterfaceId;
    private readonly int _ownTopic;
    private readonly StoredEventReader _events;
    private readonly StampedMessageCache _stamped;
    private readonly ILogger _logger;
    private long _eventsEpoch;
    private long _inboxEpoch;
    private long _loadedFrom; // the inbox offset this node's reading began at (its last load): what it handed out is after it
    // After an inbox re-read: the messages leased before it (handed out again when met, not passed over as repeats).
    private readonly HashSet<(int Topic, int Partition, long Offset)> _leasedBeforeReread = [];
    // Receipts name an inbox offset and the re-read generation they were given in ("offset-generation" after the first
    // re-read): the same offset can hold another message after a re-read, and a receipt given before must not settle it.
    private long _generation;
    private readonly Dictionary<long, long> _generationAt = []; // inbox offsets handed out in a generation above 0
    private ((string Topic, int Partition, long Offset) Place, DateTimeOffset Since)? _missing; // the pointer past its partition's end being waited for
    private bool _loaded;

    /// <summary>
    /// Creates the subscription of <paramref name="dipId"/> to <paramref name="interfaceId"/> in <paramref name="environment"/>;
    /// <paramref name="stamped"/> is the cache of stamped messages it shares with the other recipients' subscriptions (its own when null).
    /// </summary>
    public RecipientSubscription(IEventStore store, InterfaceCatalogue catalogue, MarketEnvironment environment, string dipId, string interfaceId, TimeSpan visibilityTimeout, TimeProvider time,
        StampedMessageCache? stamped = null, ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
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
        _ownInterfaceId = System.Text.Encoding.ASCII.GetBytes(interfaceId);
        _ownTopic = TopicNumber(TopicLayout.InterfaceTopic(environment, interfaceId));
        _eventsEpoch = store.TailEpoch(_topics[_ownTopic]);
        _inboxEpoch = store.TailEpoch(InboxTopic);
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
                await _store.WaitForAsync(InboxTopic, 0, _window.End, timeout.Token);
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
                if (TryGetLease(receipt, out var offset, out var lease))
                {
                    known++;
                    _window.Set(offset, lease with { State = SlotState.Acked });
                    _generationAt.Remove(offset);
                }
            }

            await AdvanceAsync(cancellationToken);
            if (_generationAt.Count > RecentPointers.Capacity)
            {
                // Leases passed over without an acknowledgement (their message gone) leave their generation behind.
                foreach (var offset in _generationAt.Keys.Where(o => o < _window.Start).ToList())
                {
                    _generationAt.Remove(offset);
                }
            }

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
            var visibleAt = (_time.GetUtcNow() + delay).UtcTicks;
            foreach (var receipt in receipts)
            {
                if (TryGetLease(receipt, out var offset, out var lease))
                {
                    _window.Set(offset, lease with { VisibleAgainAt = visibleAt });
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
            _window.Reset(0);
            _handedOut.Clear();
            _ackedHighWater.Clear();
            _leasedBeforeReread.Clear();
            _generationAt.Clear();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Drops the event batches kept from the interface topic when the store says its latest records may have been
    /// renumbered since they were read (<see cref="IEventStore.TailEpoch"/>: a new JetStream stream leader).
    /// </summary>
    private void ForgetIfTailChanged()
    {
        if (_store.TailEpoch(_topics[_ownTopic]) is var events && events != _eventsEpoch)
        {
            _eventsEpoch = events;
            _events.Forget();
        }
    }

    /// <summary>
    /// Reads the inbox again from up to <see cref="InboxIndexer.RewindOnTailChange"/> records before the durable cursor
    /// (not before this node began reading it) when the store says its latest records may have been renumbered or dropped
    /// (<see cref="IEventStore.TailEpoch"/> of the inbox: a new JetStream stream leader): the numbers this subscription read
    /// may now hold other pointers, or none yet (then the pointers written next land at numbers it had passed). A webhook
    /// reader's cursor is at the end of what it read whenever it fetches, so re-reading from the cursor alone would read
    /// nothing again. Messages handed out since are not handed out again (<see cref="RecentPointers"/>), except those leased
    /// and not acknowledged, which are handed out again under new receipts (at least once); what the re-read finds that was
    /// not handed out is. The cursor committed next may be below the last one (at a message found there): a crash then
    /// re-delivers more, never less.
    /// </summary>
    private void RereadIfInboxChanged()
    {
        if (_store.TailEpoch(InboxTopic) is var epoch && epoch == _inboxEpoch)
        {
            return;
        }

        _inboxEpoch = epoch;
        if (!_loaded)
        {
            return; // the next load reads from the cursor anyway
        }

        _leasedBeforeReread.Clear();
        for (var at = _window.Start; at < _window.End; at++)
        {
            if (_window.TryGetLeased(at, out var lease))
            {
                _leasedBeforeReread.Add((lease.Topic, lease.Partition, lease.EventOffset));
            }
        }

        _generation++;
        _generationAt.Clear(); // every lease of an earlier generation is gone with the window: its receipts settle nothing now

        var from = Math.Max(_loadedFrom, _window.Start - InboxIndexer.RewindOnTailChange);
        _logger.LogInformation("Inbox {Inbox} may have been renumbered (a new stream leader): reading it again from offset {From} (was at {End}; {Leased} leases handed out again)",
            InboxTopic, from, _window.End, _leasedBeforeReread.Count);
        _window.Reset(from);
        InboxRereads++;
    }

    /// <summary>How many times the subscription read its inbox again from its cursor after the inbox's tail changed.</summary>
    public long InboxRereads { get; private set; }

    /// <summary>How many messages leased and not acknowledged before an inbox re-read were handed out again, under new receipts, after it.</summary>
    public long LeasesHandedOutAgain { get; private set; }

    /// <summary>
    /// The lease a receipt names: its inbox offset leased in the generation the receipt was given in. A receipt given
    /// before an inbox re-read names nothing after it, even where the same offset is leased again (perhaps to another
    /// message, read there from the inbox's new leader): the recipient gets that lease's copy under its new receipt, and
    /// an acknowledgement meant for the old copy settles nothing it did not receive.
    /// </summary>
    private bool TryGetLease(string receipt, out long offset, out Slot lease)
    {
        lease = default;
        var dash = receipt.IndexOf('-', StringComparison.Ordinal);
        var generation = 0L;
        return long.TryParse(dash < 0 ? receipt : receipt.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out offset)
               && (dash < 0 || long.TryParse(receipt.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out generation))
               && generation == _generationAt.GetValueOrDefault(offset)
               && _window.TryGetLeased(offset, out lease);
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
            return range.Next - _window.Start - _window.Settled;
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
            return _topicNumbers.TryGetValue(TopicLayout.InterfaceTopic(Environment, interfaceId), out var topic)
                   && _ackedHighWater.TryGetValue((topic, partition), out var high) && offset <= high;
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
            ForgetIfTailChanged();
            RereadIfInboxChanged();
            await LoadAsync(cancellationToken);
            var deliveries = new List<Delivery>(Math.Min(max, 256));
            var now = _time.GetUtcNow().UtcTicks;
            var visibleAgainAt = now + VisibilityTimeout.Ticks;

            // Expired leases first: they are the oldest messages the recipient has not taken.
            _expired.Clear();
            _window.TakeExpired(now, max, _expired);
            foreach (var offset in _expired)
            {
                _window.TryGetLeased(offset, out var lease);
                if (await StampAsync(lease.Topic, lease.Partition, lease.EventOffset, mpan: default, fingerprint: null, cancellationToken) is not { } stamped)
                {
                    _window.Set(offset, lease with { State = SlotState.Skipped }); // its message is gone from the store: nothing to hand out again
                    continue;
                }

                _window.Set(offset, lease with { VisibleAgainAt = visibleAgainAt, Count = lease.Count + 1 });
                deliveries.Add(new Delivery(Receipt(offset), stamped.TransactionId, stamped.Mpan, stamped.Bytes, lease.Count + 1));
            }

            await ReadNewAsync(max - deliveries.Count, deliveries, visibleAgainAt, cancellationToken);
            return deliveries;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task ReadNewAsync(int max, List<Delivery> deliveries, long visibleAgainAt, CancellationToken cancellationToken)
    {
        if (max <= 0)
        {
            return;
        }

        await _store.EnsureTopicAsync(new TopicSpec(InboxTopic, 1, TopicDurability.Derived), cancellationToken);
        var taken = 0;
        while (taken < max)
        {
            using var inbox = await _store.ReadAsync(InboxTopic, 0, _window.End, InboxBytesFor(max - taken), cancellationToken);
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

                if (record.Offset < _window.End)
                {
                    continue; // read already
                }

                while (record.Offset > _window.End)
                {
                    // An offset the store does not hold (engines number records densely; this only keeps the window dense).
                    _window.Add(new Slot(-1, 0, 0, 0, 0, SlotState.Skipped));
                }

                var (topic, partition, offset, fingerprint) = ReadPointer(record.Value.Span);
                var again = false;
                if (_handedOut.Contains(topic, partition, offset, fingerprint ?? 0) && !(again = _leasedBeforeReread.Remove((topic, partition, offset))))
                {
                    // The same message's second pointer (each node's indexer writes one; an indexer resuming writes some again).
                    _window.Add(new Slot(topic, partition, offset, 0, 0, SlotState.Skipped));
                    continue;
                }

                // Stamped before it counts as handed out: a failed read leaves the pointer to be read again, not passed over.
                if (await StampAsync(topic, partition, offset, record.Key, fingerprint, cancellationToken) is not { } stamped)
                {
                    _window.Add(new Slot(topic, partition, offset, 0, 0, SlotState.Skipped));
                    continue;
                }

                _handedOut.Add(topic, partition, offset, fingerprint ?? 0);
                _window.Add(new Slot(topic, partition, offset, visibleAgainAt, 1, SlotState.Leased));
                if (_generation > 0)
                {
                    _generationAt[record.Offset] = _generation;
                }

                deliveries.Add(new Delivery(Receipt(record.Offset), stamped.TransactionId, stamped.Mpan, stamped.Bytes, 1));
                if (again)
                {
                    LeasesHandedOutAgain++;
                }

                taken++;
            }
        }
    }

    /// <summary>
    /// The inbox bytes a read for <paramref name="messages"/> more messages takes: two pointers each (every broker node's
    /// indexer writes one), at most <see cref="InboxReadBytes"/>; a read that finds repeats or passes over pointers is followed by another.
    /// </summary>
    private static int InboxBytesFor(int messages) => (int)Math.Min(InboxReadBytes, (long)messages * 2 * InboxPointer.MaxBytes);

    /// <summary>Reads an inbox pointer; the interface ID is almost always the subscription's own, found without a string.</summary>
    private (int Topic, int Partition, long Offset, ulong? Fingerprint) ReadPointer(ReadOnlySpan<byte> record)
    {
        var interfaceId = InboxPointer.ReadPlace(record, out var partition, out var offset, out var fingerprint);
        var topic = interfaceId.SequenceEqual(_ownInterfaceId)
            ? _ownTopic
            : TopicNumber(TopicLayout.InterfaceTopic(Environment, System.Text.Encoding.ASCII.GetString(interfaceId)));
        return (topic, partition, offset, fingerprint);
    }

    private int TopicNumber(string topic)
    {
        ref var number = ref CollectionsMarshal.GetValueRefOrAddDefault(_topicNumbers, topic, out var exists);
        if (!exists)
        {
            number = _topics.Count;
            _topics.Add(topic);
        }

        return number;
    }

    /// <summary>
    /// The message at <paramref name="offset"/> stamped for delivery, or null when the pointer names a message the store
    /// does not hold and never will (<see cref="PointersPassedOver"/>): a record retention deleted first, a number where
    /// the partition holds no record, or one holding another message than the pointer's — of another MPAN than its key
    /// (<paramref name="mpan"/>, which the indexer copies from the message; empty: not checked), or with another
    /// <paramref name="fingerprint"/> (null, a pointer of the first format: not checked). Pointers are written from what
    /// the store returned, so on one machine only retention does this; on a nats-server 2.9 cluster a new stream leader
    /// can number the last records before a leader's death differently from what the indexer read from the old one, and
    /// the message is indexed again where it now is. A pointer past the partition's end is waited for (the store may
    /// catch up) until <see cref="MissingGrace"/> has passed, then passed over too; a recipient never stalls on it.
    /// A copy found in the shared cache or in a batch read earlier that is not the pointer's message may be older than
    /// the store's latest numbering: the store is read afresh, and its answer decides.
    /// </summary>
    private async ValueTask<StampedMessage?> StampAsync(int topicNumber, int partition, long offset, ReadOnlyMemory<byte> mpan, ulong? fingerprint,
        CancellationToken cancellationToken)
    {
        var topic = _topics[topicNumber];
        var cached = _stamped.TryGet(topic, partition, offset, out var stamped);
        if (cached && InboxPointer.Check(mpan.Span, fingerprint, stamped!.Mpan, stamped.Fingerprint) == PointerTarget.Named)
        {
            return stamped;
        }

        for (var fresh = cached; ; fresh = true)
        {
            if (fresh)
            {
                _events.Forget();
            }

            if (await ReadStoredAsync(topic, partition, offset, cancellationToken) is not { } stored)
            {
                return await IsGoneAsync(topic, partition, offset, cancellationToken) ? PassedOver(topic, partition, offset, PointerTarget.Missing) : throw new InvalidDataException(
                    $"Inbox {InboxTopic} points to {topic}/{partition}@{offset}, past the end of what the store holds; waiting for it.");
            }

            // Not cached (a recipient further behind than the cache holds, or a message accepted before a restart or by another
            // node): stamped again, and kept for those of the message's other recipients still to take it.
            // Checked before it is stamped: a record that is not the pointer's message is passed over, not stamped for nothing.
            var message = StoredMessage.Read(stored);
            var found = InboxPointer.FingerprintOf(stored.Span);
            var target = InboxPointer.Check(mpan.Span, fingerprint, message.Mpan, found);
            if (target == PointerTarget.Named)
            {
                var (transactionId, bytes) = _stamper.Stamp(message, partition, offset, replay: false);
                stamped = new StampedMessage(transactionId, message.Mpan, bytes) { Fingerprint = found };
                if (!cached)
                {
                    _stamped.Restore(topic, partition, offset, stamped, StampedMessageCache.TakersOf(message));
                }

                return stamped;
            }

            if (fresh)
            {
                return PassedOver(topic, partition, offset, target);
            }
        }
    }

    /// <summary>The stored record at <paramref name="offset"/>, or null when there is none (the embedded log refuses an offset outside the partition, JetStream finds none).</summary>
    private async ValueTask<ReadOnlyMemory<byte>?> ReadStoredAsync(string topic, int partition, long offset, CancellationToken cancellationToken)
    {
        try
        {
            return await _events.ReadAsync(topic, partition, offset, cancellationToken);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>How long a pointer past the end of its partition is waited for before it is passed over as lost.</summary>
    public static readonly TimeSpan MissingGrace = TimeSpan.FromSeconds(30);

    /// <summary>How many pointers this subscription passed over, whatever their place held instead of their message (see <see cref="StampAsync"/>).</summary>
    public long PointersPassedOver => _passedOver.Sum();

    /// <summary>How many pointers this subscription passed over for finding <paramref name="target"/> at their place.</summary>
    public long PointersPassedOverFinding(PointerTarget target) => _passedOver[(int)target];

    private readonly long[] _passedOver = new long[Enum.GetValues<PointerTarget>().Length];

    private StampedMessage? PassedOver(string topic, int partition, long offset, PointerTarget found)
    {
        var why = found switch
        {
            PointerTarget.Missing => "holds no record there",
            PointerTarget.OtherMpan => "holds a message of another MPAN there",
            _ => "holds another message of the same MPAN there (its fingerprint differs)",
        };
        _logger.LogWarning("Inbox {Inbox} points to {Topic}/{Partition}@{Offset}, but the store {Why}: passed over (the message, if stored elsewhere, has its own pointer)",
            InboxTopic, topic, partition, offset, why);
        _passedOver[(int)found]++;
        _missing = null;
        return null;
    }

    /// <summary>Whether the store will never hold a record at <paramref name="offset"/>: it holds records past it, or the pointer has waited out <see cref="MissingGrace"/>.</summary>
    private async ValueTask<bool> IsGoneAsync(string topic, int partition, long offset, CancellationToken cancellationToken)
    {
        if (offset < (await _store.RangeAsync(topic, partition, cancellationToken)).Next)
        {
            return true;
        }

        var now = _time.GetUtcNow();
        if (_missing is not { } missing || missing.Place != (topic, partition, offset))
        {
            _missing = ((topic, partition, offset), now);
            return false;
        }

        return now - missing.Since >= MissingGrace;
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        if (_loaded)
        {
            return;
        }

        long ackedThrough = 0;
        foreach (var cursor in await _store.GetCursorsAsync(CursorName, cancellationToken))
        {
            if (cursor.Topic == InboxTopic)
            {
                ackedThrough = cursor.Offset;
            }
            else
            {
                _ackedHighWater[(TopicNumber(cursor.Topic), cursor.Partition)] = cursor.Offset;
            }
        }

        _window.Reset(ackedThrough);
        _loadedFrom = ackedThrough;
        _loaded = true;
    }

    private async Task AdvanceAsync(CancellationToken cancellationToken)
    {
        // Only the gap-free prefix counts: per event partition, every pointer before the cursor is
        // acknowledged, so the highest event offset in the prefix bounds what the recipient has taken.
        var moved = false;
        while (_window.TryTakeSettled(out var acked))
        {
            if (acked.State == SlotState.Acked)
            {
                ref var high = ref CollectionsMarshal.GetValueRefOrAddDefault(_ackedHighWater, (acked.Topic, acked.Partition), out var seen);
                high = seen ? Math.Max(high, acked.EventOffset) : acked.EventOffset;
            }

            moved = true;
        }

        if (!moved)
        {
            return;
        }

        var updates = new List<CursorUpdate>(1 + _ackedHighWater.Count) { new(CursorName, InboxTopic, 0, _window.Start) };
        foreach (var ((topic, partition), offset) in _ackedHighWater)
        {
            updates.Add(new CursorUpdate(CursorName, _topics[topic], partition, offset));
        }

        await _store.CommitCursorsAsync(updates, cancellationToken);
    }

    private TimeSpan? NextLeaseExpiry()
        => _window.Leased > 0 && _window.EarliestExpiry != long.MaxValue
            ? Max(TimeSpan.FromTicks(_window.EarliestExpiry - _time.GetUtcNow().UtcTicks), TimeSpan.FromMilliseconds(1))
            : null;

    /// <summary>The receipt of the lease at <paramref name="inboxOffset"/>: the offset, and after an inbox re-read the generation it was handed out in.</summary>
    private string Receipt(long inboxOffset) => _generationAt.TryGetValue(inboxOffset, out var generation)
        ? string.Create(CultureInfo.InvariantCulture, $"{inboxOffset}-{generation}")
        : inboxOffset.ToString(CultureInfo.InvariantCulture);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
