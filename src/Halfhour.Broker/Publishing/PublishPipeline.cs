using System.Buffers;
using System.Collections.Concurrent;
using Halfhour.Broker.Audit;
using Halfhour.Broker.Deduplication;
using Halfhour.Broker.Delivery;
using Halfhour.Broker.Messages;
using Halfhour.Broker.Routing;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Entitlement;
using Halfhour.Market.Envelope;
using Halfhour.Market.Participants;
using Halfhour.Market.Routing;
using Halfhour.Market.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Halfhour.Broker.Publishing;

/// <summary>
/// The path of a published batch: for each message validate → check against the caller and channel
/// (entitlement) → de-duplicate → route; then one durable append for every accepted message of the
/// batch, and only then the acknowledgement with transaction IDs. Identification happens before (the
/// server authenticates the caller); delivery after (from the stored events).
/// Failure semantics: nothing is acknowledged before the append that holds it is durable; when the
/// append fails, every message it held is answered MSG1500 and its reference released, so a retry with
/// the same sender unique reference is accepted rather than called a duplicate.
/// </summary>
public sealed class PublishPipeline
{
    private readonly IEventStore _store;
    private readonly ILogger _logger;
    private readonly TopicLayout _layout;
    private readonly InterfaceCatalogue _catalogue;
    private readonly IMessageValidator _validator;
    private readonly MessageGate _gate;
    private readonly AppointmentKeeper _appointments;
    private readonly ISenderReferences _references;
    private readonly AuditTrail _audit;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, bool> _ensuredTopics = new(StringComparer.Ordinal);

    /// <summary>Creates the pipeline over its parts.</summary>
    public PublishPipeline(IEventStore store, TopicLayout layout, InterfaceCatalogue catalogue, IMessageValidator validator, MessageGate gate,
        AppointmentKeeper appointments, ISenderReferences references, AuditTrail audit, TimeProvider time, ILogger<PublishPipeline>? logger = null)
    {
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _audit = audit;
        _store = store;
        _layout = layout;
        _catalogue = catalogue;
        _validator = validator;
        _gate = gate;
        _appointments = appointments;
        _references = references;
        _time = time;
    }

    /// <summary>
    /// Where accepted messages are stamped for delivery as soon as they are durable, while their bytes are still in
    /// memory: every recipient's subscription then takes the same stamped copy instead of reading the stored batch back.
    /// </summary>
    internal (StampedMessageCache Cache, MessageStamper Stamper)? Delivery { get; set; }

    /// <summary>
    /// Where accepted messages are handed to the inbox indexer as soon as they are durable (offset, key, recipients), so it
    /// need not read them back; null when the store's append offsets are not exact (the indexer then reads the store).
    /// </summary>
    internal AppendHandoff? Handoff { get; set; }

    /// <summary>Called, in offset order per partition, for each message once it is durable (appointment book, audit).</summary>
    public event Action<StoredMessage, MessageFacts>? Accepted;

    /// <summary>
    /// Publishes the messages of <paramref name="body"/> (a JSON array of <c>{"payload":…}</c>) sent by
    /// <paramref name="caller"/> to the channel <paramref name="channelInterfaceId"/>; one result per message.
    /// </summary>
    /// <exception cref="PublishRequestException">The body is not a JSON array of messages (nothing is stored).</exception>
    public ValueTask<PublishResult> PublishAsync(Participant caller, string channelInterfaceId, ReadOnlyMemory<byte> body, CancellationToken cancellationToken = default)
    {
        var ranges = new List<Range>();
        if (!MessageBatch.TrySplit(body.Span, ranges))
        {
            throw new PublishRequestException("The body is not a JSON array of messages", "Send a JSON array of {\"payload\": …} objects, even for a single message.");
        }

        return PublishAsync(caller, channelInterfaceId, body, ranges, cancellationToken);
    }

    /// <summary>
    /// Publishes the messages of <paramref name="body"/> whose byte ranges the caller has already found (the server's
    /// shape check of the array finds them in the same pass), so the body is not read a second time to split it.
    /// </summary>
    /// <exception cref="PublishRequestException">There is no message, or the channel is unknown (nothing is stored).</exception>
    public ValueTask<PublishResult> PublishAsync(Participant caller, string channelInterfaceId, ReadOnlyMemory<byte> body, IReadOnlyList<Range> ranges,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        var batch = new ValidatedBatch(_validator);
        for (var i = 0; i < ranges.Count; i++)
        {
            batch.Add(ranges[i], body.Span);
        }

        return PublishAsync(caller, channelInterfaceId, body, batch, cancellationToken);
    }

    /// <summary>The validator whose verdicts <see cref="PublishAsync(Participant, string, ReadOnlyMemory{byte}, ValidatedBatch, CancellationToken)"/> takes.</summary>
    public IMessageValidator Validator => _validator;

    /// <summary>
    /// Publishes the messages of <paramref name="body"/> that <see cref="Validator"/> has already validated where the caller
    /// read the array (the server's shape check does both in one pass), so no message is read again before it is stored.
    /// </summary>
    /// <exception cref="PublishRequestException">There is no message, or the channel is unknown (nothing is stored).</exception>
    /// <exception cref="ArgumentException">The batch was validated by another validator.</exception>
    public async ValueTask<PublishResult> PublishAsync(Participant caller, string channelInterfaceId, ReadOnlyMemory<byte> body, ValidatedBatch batch,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(batch);
        if (!ReferenceEquals(batch.Validator, _validator))
        {
            throw new ArgumentException("The batch was validated by another validator than the pipeline's; validate it with PublishPipeline.Validator.", nameof(batch));
        }

        var messages = batch.Messages;
        if (messages.Count == 0)
        {
            throw new PublishRequestException("The array holds no message", "Send at least one {\"payload\": …} object in the array.");
        }

        if (!_catalogue.TryGet(channelInterfaceId, out var definition))
        {
            throw new PublishRequestException($"Unknown channel '{channelInterfaceId}'", "Post to /dip-channel/{interfaceID} with an interface ID of the catalogue, e.g. IF-021.", 404);
        }

        var environment = caller.Environment.ToString();
        var results = new MessageResult?[messages.Count];
        var pending = new List<PendingMessage>(messages.Count);
        var keysInBatch = new Dictionary<ulong, int>();
        var recipients = new RoutedRecipients();
        var acceptedAt = _time.GetUtcNow();
        var acceptedDay = DateOnly.FromDateTime(acceptedAt.UtcDateTime); // the day of the transaction IDs: routing reads appointments as of it

        for (var i = 0; i < messages.Count; i++)
        {
            var (range, facts, verdict) = messages[i];
            var bytes = body[range];
            if (verdict.IsValid)
            {
                verdict = _gate.Check(facts, channelInterfaceId, caller);
            }

            if (verdict.IsValid)
            {
                verdict = _appointments.Route(definition, facts, caller.Environment, recipients, acceptedDay);
            }

            if (!verdict.IsValid)
            {
                results[i] = Rejected(verdict, facts);
                continue;
            }

            var reference = SenderReference.Of(environment, caller.DipId, facts.SenderUniqueReference!);
            if (keysInBatch.TryGetValue(reference.Key, out var first))
            {
                // The same reference twice in one batch: the later one is a duplicate of the earlier.
                pending.Add(new PendingMessage(i, facts, reference, null, DuplicateOf: first));
                continue;
            }

            var existing = await ReserveAsync(reference, caller, facts, cancellationToken);
            if (existing is not null)
            {
                results[i] = Duplicate(existing, facts);
                continue;
            }

            keysInBatch[reference.Key] = i;
            var stored = Describe(definition, caller, facts, recipients, bytes, acceptedAt);
            pending.Add(new PendingMessage(i, facts, reference, stored, DuplicateOf: -1));
        }

        await AppendAsync(caller, channelInterfaceId, acceptedAt, pending, results, cancellationToken);
        return new PublishResult(results!);
    }

    /// <summary>Reserves a reference; returns the transaction ID of the message already accepted with it, or null when the caller now holds it.</summary>
    private async ValueTask<string?> ReserveAsync(SenderReference reference, Participant caller, MessageFacts facts, CancellationToken cancellationToken)
    {
        while (await _references.ClaimAsync(reference, cancellationToken) is { } existing)
        {
            if (await IsSameMessageAsync(existing, caller, facts, cancellationToken))
            {
                return existing;
            }

            // A 64-bit hash collision with another reference: forget the old key rather than refuse a new message.
            _references.Forget(reference);
        }

        return null;
    }

    private async ValueTask<bool> IsSameMessageAsync(string transactionId, Participant caller, MessageFacts facts, CancellationToken cancellationToken)
    {
        if (!TransactionId.TryParse(transactionId, out var interfaceId, out var partition, out var offset))
        {
            return false;
        }

        var stored = await StoredEventReader.ReadOneAsync(_store, TopicLayout.InterfaceTopic(caller.Environment, interfaceId), partition, offset, cancellationToken);
        if (stored is null)
        {
            return false;
        }

        var message = StoredMessage.Read(stored);
        return message.SenderDipId == caller.DipId && message.SenderUniqueReference == facts.SenderUniqueReference;
    }

    private static StoredMessage Describe(InterfaceDefinition definition, Participant caller, MessageFacts facts, RoutedRecipients route, ReadOnlyMemory<byte> bytes, DateTimeOffset acceptedAt)
    {
        return new StoredMessage
        {
            InterfaceId = definition.InterfaceId,
            EventCode = facts.EventCode ?? "",
            AcceptedAt = acceptedAt,
            SenderDipId = caller.DipId,
            SenderRole = caller.Role.ToString(),
            SenderUniqueReference = facts.SenderUniqueReference!,
            CorrelationId = facts.SenderCorrelationId ?? "",
            Mpan = facts.Mpan ?? "",
            Primary = [.. route.Primary],
            Secondary = [.. route.Secondary],
            Always = [.. route.Always],
            Body = bytes,
        };
    }

    private async ValueTask AppendAsync(Participant caller, string channel, DateTimeOffset at, List<PendingMessage> pending, MessageResult?[] results, CancellationToken cancellationToken)
    {
        var writes = new List<EventWrite>(pending.Count + 1);
        var partitions = new int[pending.Count];
        var recipientsOf = new string[]?[pending.Count + 1]; // per write; none for the audit record
        var environment = caller.Environment.ToString();

        // The stored forms of the whole batch, one after another in one pooled buffer, which goes back to the pool once
        // the append is done: a message-sized array per accepted message was a third of the server's allocations.
        var storedBytes = 0;
        foreach (var entry in pending)
        {
            storedBytes += entry.Stored?.StoredSize ?? 0;
        }

        var storedForms = ArrayPool<byte>.Shared.Rent(storedBytes);
        var written = 0;
        long[] offsets = [];
        string?[] transactionIds = [];
        Exception? failure = null;
        AppendHandoff.PendingHandoff? handoff = null;
        try
        {
            // Topics are made on first use: a shared store that does not answer then fails the batch like a failed append
            // (nothing stored, the sender told to retry), not as an internal error.
            for (var k = 0; k < pending.Count; k++)
            {
                var message = pending[k].Stored;
                if (message is null)
                {
                    continue;
                }

                var topic = TopicLayout.InterfaceTopic(caller.Environment, message.InterfaceId);
                await EnsureTopicAsync(topic, cancellationToken);
                partitions[k] = _layout.PartitionOf(message.Mpan, message.SenderDipId);
                recipientsOf[writes.Count] = AllRecipients(message);
                var length = message.WriteTo(storedForms.AsSpan(written));
                writes.Add(new EventWrite(topic, partitions[k], System.Text.Encoding.ASCII.GetBytes(message.Mpan), storedForms.AsMemory(written, length),
                    IdempotencyKeyOf(environment, message)));
                written += length;
            }

            // The audit record rides in the same append as the messages it describes: no extra commit.
            var stored = writes.Count;
            await _audit.EnsureAsync(cancellationToken);
            writes.Add(AuditTrail.ToWrite(new AuditEntry(at, AuditAction.Published, caller.DipId, caller.Environment.ToString(), channel,
                $"{results.Length} messages: {stored} stored, {pending.Count - stored} repeated in the batch, {CountRejected(results)} rejected or duplicates")));

            handoff = Handoff?.Begin(writes);
            // Not cancellable once started: a half-answered batch would leave the sender unsure what was stored.
            offsets = await _store.AppendAsync(writes, CancellationToken.None);
            // Stamped before the hand-off: the indexer writes inbox pointers as soon as it has the events, and a recipient
            // that pulls one before its stamped copy is cached reads the stored batch back and stamps it again.
            // Each message's fingerprint once, for its cached copy and for the indexer's pointers.
            var fingerprints = new ulong[writes.Count];
            for (var i = 0; i < writes.Count; i++)
            {
                fingerprints[i] = recipientsOf[i] is null ? 0 : InboxPointer.FingerprintOf(writes[i].Value.Span);
            }

            transactionIds = StampForDelivery(pending, partitions, writes, offsets, fingerprints);
            handoff?.Complete(writes, offsets, recipientsOf, fingerprints);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ObjectDisposedException)
        {
            failure = ex;
            _logger.LogWarning("A batch of {Count} messages from {Sender} on {Channel} was not stored ({Error}: {Message}); the sender was told to retry",
                pending.Count, caller.DipId, channel, ex.GetType().Name, ex.Message);
        }
        finally
        {
            handoff?.Dispose(); // a failed append hands nothing over; the indexer reads whatever the store holds
            ArrayPool<byte>.Shared.Return(storedForms); // the store keeps no write once its append completed
        }

        var w = 0;
        List<Task>? commits = null;
        for (var k = 0; k < pending.Count; k++)
        {
            var entry = pending[k];
            if (entry.Stored is null)
            {
                continue;
            }

            if (failure is not null)
            {
                await _references.ReleaseAsync(entry.Reference);
                results[entry.Index] = Rejected(ValidationResult.Fail(MessageCode.StorageUnavailable, "", "storage",
                    "The backbone could not store the message; nothing was stored. Retry with the same senderUniqueReference."), entry.Facts);
                w++;
                continue;
            }

            var message = entry.Stored;
            var recipients = recipientsOf[w]!;
            var transactionId = transactionIds[w++]!;

            // Shared stores answer in a round trip: the batch's commits overlap, and all complete before the answer.
            var commit = _references.CommitAsync(entry.Reference, transactionId, message.AcceptedAt);
            if (!commit.IsCompletedSuccessfully)
            {
                (commits ??= []).Add(commit.AsTask());
            }

            results[entry.Index] = new MessageResult
            {
                Code = MessageCode.Success,
                TransactionId = transactionId,
                SenderUniqueReference = entry.Facts.SenderUniqueReference,
                CorrelationId = entry.Facts.SenderCorrelationId,
                SentTimestamp = entry.Facts.SenderTimestamp,
                RecipientId = FirstRecipient(message),
                Recipients = recipients,
            };
            Accepted?.Invoke(message, entry.Facts);
        }

        if (commits is not null)
        {
            await Task.WhenAll(commits);
        }

        // Duplicates within the batch answer like the message they repeat, once that one's fate is known.
        foreach (var entry in pending)
        {
            if (entry.DuplicateOf >= 0)
            {
                var original = results[entry.DuplicateOf]!;
                results[entry.Index] = original.IsAccepted ? Duplicate(original.TransactionId!, entry.Facts) : original;
            }
        }
    }

    private async ValueTask EnsureTopicAsync(string topic, CancellationToken cancellationToken)
    {
        if (_ensuredTopics.ContainsKey(topic))
        {
            return;
        }

        await _store.EnsureTopicAsync(new TopicSpec(topic, _layout.PartitionsPerInterface), cancellationToken);
        _ensuredTopics[topic] = true;
    }

    /// <summary>
    /// The record's name for engines that de-duplicate appends themselves: what the sender's unique
    /// reference is unique within, so an engine-level retry of a half-failed group cannot store it twice.
    /// </summary>
    internal static string IdempotencyKeyOf(string environment, StoredMessage message)
        => $"{environment}:{message.SenderDipId}:{message.SenderUniqueReference}";

    private static int CountRejected(MessageResult?[] results)
    {
        var count = 0;
        foreach (var result in results)
        {
            count += result is null ? 0 : 1;
        }

        return count;
    }

    private static MessageResult Rejected(ValidationResult verdict, MessageFacts facts) => new()
    {
        Code = verdict.Code,
        SenderUniqueReference = facts.SenderUniqueReference,
        CorrelationId = facts.SenderCorrelationId,
        SentTimestamp = facts.SenderTimestamp,
        Failure = verdict,
    };

    private static MessageResult Duplicate(string transactionId, MessageFacts facts) => new()
    {
        Code = MessageCode.Duplicate,
        TransactionId = transactionId,
        SenderUniqueReference = facts.SenderUniqueReference,
        CorrelationId = facts.SenderCorrelationId,
        SentTimestamp = facts.SenderTimestamp,
    };

    private static string? FirstRecipient(StoredMessage message)
        => message.Primary.Count > 0 ? message.Primary[0] : message.Secondary.Count > 0 ? message.Secondary[0] : message.Always.Count > 0 ? message.Always[0] : null;

    /// <summary>
    /// The transaction IDs of the appended messages, one per write (null for the audit record); with <see cref="Delivery"/>
    /// set, each message is also stamped once for all its recipients and kept for them in the shared cache.
    /// </summary>
    private string?[] StampForDelivery(List<PendingMessage> pending, int[] partitions, List<EventWrite> writes, long[] offsets, ulong[] fingerprints)
    {
        var transactionIds = new string?[offsets.Length];
        var w = 0;
        for (var k = 0; k < pending.Count; k++)
        {
            if (pending[k].Stored is not { } message)
            {
                continue;
            }

            var offset = offsets[w];
            if (Delivery is var (cache, stamper))
            {
                var stamped = stamper.Stamp(message, partitions[k], offset, replay: false);
                cache.Add(writes[w].Topic, partitions[k], offset,
                    new StampedMessage(stamped.TransactionId, message.Mpan, stamped.Bytes) { Fingerprint = fingerprints[w] },
                    takers: StampedMessageCache.TakersOf(message));
                transactionIds[w] = stamped.TransactionId;
            }
            else
            {
                transactionIds[w] = TransactionId.Create(message.InterfaceId, message.SenderDipId, message.SenderRole, message.AcceptedAt, partitions[k], offset);
            }

            w++;
        }

        return transactionIds;
    }

    private static string[] AllRecipients(StoredMessage message)
    {
        var all = new string[message.Primary.Count + message.Secondary.Count + message.Always.Count];
        var at = 0;
        foreach (var list in (ReadOnlySpan<IReadOnlyList<string>>)[message.Primary, message.Secondary, message.Always])
        {
            for (var i = 0; i < list.Count; i++)
            {
                all[at++] = list[i];
            }
        }

        return all;
    }

    private sealed record PendingMessage(int Index, MessageFacts Facts, SenderReference Reference, StoredMessage? Stored, int DuplicateOf);
}

/// <summary>The request as a whole cannot be published (not an array, unknown channel); nothing was stored.</summary>
public sealed class PublishRequestException(string title, string detail, int statusCode = 400) : Exception($"{title}: {detail}")
{
    /// <summary>A short summary of the problem.</summary>
    public string Title { get; } = title;

    /// <summary>What is wrong and what to do.</summary>
    public string Detail { get; } = detail;

    /// <summary>The HTTP status the server answers with.</summary>
    public int StatusCode { get; } = statusCode;
}
