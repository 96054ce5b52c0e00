using System.Text;
using Halfhour.Broker.Audit;
using Halfhour.Broker.Deduplication;
using Halfhour.Broker.Delivery;
using Halfhour.Broker.Messages;
using Halfhour.Broker.Publishing;
using Halfhour.Broker.Replay;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;
using Halfhour.Market.Participants;
using Halfhour.Market.Validation;

namespace Halfhour.Broker.StatusMessages;

/// <summary>The outcome of a batch of status messages: one result per message, and the DIP status code of the whole.</summary>
/// <param name="Messages">One result per status message, in the order sent.</param>
/// <param name="StatusCode">
/// 201 when every one was stored; otherwise nothing was stored and the code names the most basic failure: 400 (a
/// message breaks the schema or names the wrong sender or recipient), 404 (a transaction ID names no message), 403 (a
/// message was not routed to the caller), 503 (the store failed).
/// </param>
public sealed record StatusPublishResult(IReadOnlyList<MessageResult> Messages, int StatusCode);

/// <summary>
/// Accepts status messages (the DIP's <c>POST /statusmessage</c>): a recipient's word about a message it received, sent
/// back to that message's sender. Each status names the message by its transaction ID, which says where it is stored
/// (<see cref="TransactionId"/>), so the message is read back without an index; only a recipient of the message may
/// send status about it. A batch is stored whole or not at all (the DIP answers it with one status code, 201 or an
/// error, never 207), in the topic <c>{environment}.statusmessage</c>, one durable append with its audit record, in the
/// partition of the message it is about. From there the inbox indexer hands it to the sender's status channel like
/// any channel: webhook (<c>/statusmessage/config</c>), pull (native channel <c>statusmessage</c>), replay, requeue.
/// A status message with a sender unique reference is stored once: a retried one is answered as a duplicate
/// (MSG0001) and not delivered again. Status references are a namespace of their own per environment and sender
/// (<see cref="ReferenceNamespace"/>), so a status and a business message may carry the same reference.
/// Failure semantics: nothing is acknowledged before the append is durable; a failed append stores nothing (503) and
/// gives its references back, so the retry is stored.
/// </summary>
public sealed class StatusMessagePublisher(IEventStore store, TopicLayout layout, ReplayService replays, InboxIndexer indexer, AuditTrail audit, TimeProvider time,
    ISenderReferences references)
{
    private readonly HashSet<string> _ensuredTopics = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>What status messages' sender unique references are unique within, per environment (not the messages' own).</summary>
    public static string ReferenceNamespace(MarketEnvironment environment) => $"{environment}-status";

    /// <summary>
    /// Checks every status message of the batch and, when all pass, stores them for their recipients. Each result
    /// carries the message's transaction ID, references and recipient; the caller adds what else it echoes.
    /// </summary>
    public async ValueTask<StatusPublishResult> PublishAsync(Participant caller, IReadOnlyList<StatusMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(messages);
        var results = new MessageResult[messages.Count];
        var originals = new StoredMessage?[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            var (failure, original) = await CheckAsync(caller, messages[i], cancellationToken);
            results[i] = Result(messages[i], failure?.Code ?? MessageCode.Success, failure, original?.SenderDipId);
            originals[i] = original;
        }

        var status = StatusOf(results);
        if (status != 201)
        {
            for (var i = 0; i < results.Length; i++)
            {
                if (results[i].IsAccepted)
                {
                    results[i] = results[i] with { Code = MessageCode.BatchRefused, Failure = ValidationResult.Fail(MessageCode.BatchRefused, "", "batch",
                        "This status message is valid, but another in the batch was refused, so none was stored; resend it with the others corrected.") };
                }
            }

            return new StatusPublishResult(results, status);
        }

        return await StoreAsync(caller, messages, originals, results, cancellationToken);
    }

    private async ValueTask<(ValidationResult? Failure, StoredMessage? Original)> CheckAsync(Participant caller, StatusMessage message, CancellationToken cancellationToken)
    {
        if (message.Refusal is { } refusal)
        {
            return (refusal, null);
        }

        if (!string.Equals(message.SenderId, caller.DipId, StringComparison.Ordinal))
        {
            return (ValidationResult.Fail(MessageCode.SenderMismatch, "/senderID", "sender",
                $"senderID is {message.SenderId} but the caller is {caller.DipId}; a participant sends status messages only as itself."), null);
        }

        var original = await FindAsync(caller.Environment, message.TransactionId, cancellationToken);
        if (original is null)
        {
            return (ValidationResult.Fail(MessageCode.UnknownTransaction, "/transactionID", "transaction",
                $"{message.TransactionId} names no message in {caller.Environment}; send the transactionID of a message you received, exactly as it was delivered."), null);
        }

        if (!original.IsRoutedTo(caller.DipId))
        {
            return (ValidationResult.Fail(MessageCode.NotARecipient, "/transactionID", "recipient",
                $"{message.TransactionId} was not routed to {caller.DipId}; a participant sends status messages only about messages it received."), null);
        }

        if (message.RecipientId is { } recipient && !string.Equals(recipient, original.SenderDipId, StringComparison.Ordinal))
        {
            return (ValidationResult.Fail(MessageCode.InvalidRecipient, "/recipientID", "recipient",
                $"A status message goes to the sender of the message it is about, {original.SenderDipId}; set recipientID to it or leave it null, not {recipient}."), null);
        }

        return (null, original);
    }

    /// <summary>The message a transaction ID names in an environment, read from where the ID says it is stored; null when there is none.</summary>
    private async ValueTask<StoredMessage?> FindAsync(MarketEnvironment environment, string transactionId, CancellationToken cancellationToken)
    {
        // Only an interface topic may be named: a crafted ID must not make the backbone read an inbox or audit record as a message.
        if (!TransactionId.TryParse(transactionId, out var interfaceId, out var partition, out var offset) || partition >= layout.PartitionsPerInterface ||
            interfaceId.Contains('.', StringComparison.Ordinal))
        {
            return null;
        }

        var message = await replays.ReadAsync(environment, interfaceId, partition, offset, cancellationToken);

        // The ID must be the one the backbone gave that message, not just point at its place.
        return message is not null &&
               string.Equals(transactionId, TransactionId.Create(message.InterfaceId, message.SenderDipId, message.SenderRole, message.AcceptedAt, partition, offset), StringComparison.Ordinal)
            ? message
            : null;
    }

    private async ValueTask<StatusPublishResult> StoreAsync(Participant caller, IReadOnlyList<StatusMessage> messages, StoredMessage?[] originals, MessageResult[] results,
        CancellationToken cancellationToken)
    {
        var topic = TopicLayout.InterfaceTopic(caller.Environment, TopicLayout.StatusChannel);
        await EnsureTopicAsync(topic, cancellationToken);
        await audit.EnsureAsync(cancellationToken);
        var now = time.GetUtcNow();
        var held = await ReserveAsync(caller, messages, results, cancellationToken);
        if (held.Count == 0 && results.All(r => r.Code == MessageCode.Duplicate))
        {
            return new StatusPublishResult(results, 201); // a retry of statuses all stored before: nothing new to deliver
        }

        var writes = new List<EventWrite>(messages.Count + 1);
        var recipientsOf = new string[]?[messages.Count + 1]; // per write, for the indexer; none for the audit record
        var stored = new List<(int Index, int Partition)>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
        {
            if (results[i].Code == MessageCode.Duplicate)
            {
                continue;
            }

            var original = originals[i]!;
            var status = new StoredMessage
            {
                InterfaceId = TopicLayout.StatusChannel,
                EventCode = "",
                AcceptedAt = now,
                SenderDipId = caller.DipId,
                SenderRole = caller.Role.ToString(),
                SenderUniqueReference = messages[i].SenderUniqueReference ?? "",
                CorrelationId = messages[i].CorrelationId ?? "",
                Mpan = original.Mpan,
                Primary = recipientsOf[writes.Count] = [original.SenderDipId],
                Body = messages[i].AddressedTo(original.SenderDipId),
            };

            // The partition of the message it is about: the status keeps that message's MPAN order.
            var partition = layout.PartitionOf(original.Mpan, original.SenderDipId);
            writes.Add(new EventWrite(topic, partition, Encoding.ASCII.GetBytes(original.Mpan), status.ToArray()));
            stored.Add((i, partition));
        }

        writes.Add(AuditTrail.ToWrite(new AuditEntry(now, AuditAction.StatusSent, caller.DipId, caller.Environment.ToString(), TopicLayout.StatusChannel,
            $"{messages.Count} status messages about {string.Join(", ", messages.Select(m => m.TransactionId).Distinct().Take(10))}{(messages.Count > 10 ? ", …" : "")}, " +
            $"to {string.Join(", ", originals.Select(o => o!.SenderDipId).Distinct())}")));
        using var handoff = indexer.Handoff?.Begin(writes);
        long[] offsets;
        try
        {
            // Not cancellable once started: a half-answered batch would leave the sender unsure what was stored.
            offsets = await store.AppendAsync(writes, CancellationToken.None);
            handoff?.Complete(writes, offsets, recipientsOf);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ObjectDisposedException)
        {
            handoff?.Dispose(); // a failed append hands nothing over; the indexer reads whatever the store holds
            foreach (var reference in held.Values)
            {
                await references.ReleaseAsync(reference);
            }

            var failure = ValidationResult.Fail(MessageCode.StorageUnavailable, "", "storage", "The backbone could not store the status messages; nothing was stored. Retry the batch.");
            return new StatusPublishResult([.. results.Select(r => r with { Code = MessageCode.StorageUnavailable, Failure = failure })], 503);
        }

        for (var w = 0; w < stored.Count; w++)
        {
            if (held.TryGetValue(stored[w].Index, out var reference))
            {
                await references.CommitAsync(reference, TransactionId.Create(TopicLayout.StatusChannel, caller.DipId, caller.Role.ToString(), now, stored[w].Partition, offsets[w]), now);
            }
        }

        indexer.Follow(caller.Environment, TopicLayout.StatusChannel, layout.PartitionsPerInterface);
        return new StatusPublishResult(results, 201);
    }

    /// <summary>
    /// Reserves the sender unique reference of each status that has one; a reference stored before, or repeated earlier in
    /// the batch, makes its result a duplicate. Returns the references now held, by message index.
    /// </summary>
    private async ValueTask<Dictionary<int, SenderReference>> ReserveAsync(Participant caller, IReadOnlyList<StatusMessage> messages, MessageResult[] results,
        CancellationToken cancellationToken)
    {
        var held = new Dictionary<int, SenderReference>();
        var inBatch = new HashSet<ulong>();
        for (var i = 0; i < messages.Count; i++)
        {
            if (string.IsNullOrEmpty(messages[i].SenderUniqueReference))
            {
                continue;
            }

            var reference = SenderReference.Of(ReferenceNamespace(caller.Environment), caller.DipId, messages[i].SenderUniqueReference!);
            if (!inBatch.Add(reference.Key) || await references.ClaimAsync(reference, cancellationToken) is not null)
            {
                results[i] = results[i] with { Code = MessageCode.Duplicate };
                continue;
            }

            held[i] = reference;
        }

        return held;
    }

    private async ValueTask EnsureTopicAsync(string topic, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_ensuredTopics.Contains(topic))
            {
                return;
            }
        }

        await store.EnsureTopicAsync(new TopicSpec(topic, layout.PartitionsPerInterface), cancellationToken);
        lock (_lock)
        {
            _ensuredTopics.Add(topic);
        }
    }

    private static int StatusOf(MessageResult[] results)
    {
        var status = 201;
        foreach (var result in results)
        {
            var code = result.Code switch
            {
                MessageCode.Success or MessageCode.Duplicate => 201,
                MessageCode.NotARecipient => 403,
                MessageCode.UnknownTransaction => 404,
                _ => 400,
            };

            // The most basic failure names the batch: a malformed message (400) before a missing one (404) before a forbidden one (403).
            status = Rank(code) > Rank(status) ? code : status;
        }

        return status;

        static int Rank(int code) => code switch { 400 => 3, 404 => 2, 403 => 1, _ => 0 };
    }

    private static MessageResult Result(StatusMessage message, MessageCode code, ValidationResult? failure, string? recipient) => new()
    {
        Code = code,
        TransactionId = message.TransactionId,
        SenderUniqueReference = message.SenderUniqueReference,
        CorrelationId = message.CorrelationId,
        RecipientId = recipient ?? message.RecipientId,
        Recipients = recipient is null ? [] : [recipient],
        Failure = failure,
    };
}
