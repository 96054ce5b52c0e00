using System.Globalization;
using Halfhour.Broker.Delivery;
using Halfhour.Broker.Messages;
using Halfhour.Broker.StatusMessages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Participants;

namespace Halfhour.Broker.Replay;

/// <summary>What a recipient asks to replay (the DIP's MessageRequest); every filter is optional.</summary>
/// <param name="From">Only messages accepted at or after this instant.</param>
/// <param name="To">Only messages accepted at or before this instant.</param>
/// <param name="EventCode">Only this event code.</param>
/// <param name="Mpan">Only messages about this MPAN core.</param>
/// <param name="TransactionIds">Only these messages.</param>
/// <remarks>On the status channel, <paramref name="TransactionIds"/> names the messages the status messages are about.</remarks>
public sealed record ReplayQuery(DateTimeOffset? From, DateTimeOffset? To, string? EventCode, string? Mpan, IReadOnlyList<string>? TransactionIds)
{
    /// <summary>Only messages with this sender unique reference (the DIP's StatusMessageRequest filters status messages so).</summary>
    public string? SenderUniqueReference { get; init; }

    /// <summary>Only messages with this correlation ID.</summary>
    public string? CorrelationId { get; init; }
}

/// <summary>One page of replayed messages and, when more may follow, the token for the next page.</summary>
/// <param name="Messages">The stamped messages (replayIndicator true), in the order they were routed.</param>
/// <param name="ContinuationToken">Null on the last page.</param>
public sealed record ReplayPage(IReadOnlyList<byte[]> Messages, string? ContinuationToken)
{
    /// <summary>The transaction ID and MPAN core of each message, in the same order (what a re-push needs to track them).</summary>
    public IReadOnlyList<(string TransactionId, string Mpan)> Identities { get; init; } = [];
}

/// <summary>
/// Replays what was routed to a recipient on one channel, from its inbox, never anything else; pages
/// are bounded both in messages returned and in inbox records examined, so one request's cost is bounded
/// whatever the filters.
/// </summary>
public sealed class ReplayService(IEventStore store, InterfaceCatalogue catalogue)
{
    /// <summary>Examine at most 20,000 inbox records per page, so a selective filter over a long range still answers promptly (206 with a token).</summary>
    private const int MaxExaminedPerPage = 20_000;

    /// <summary>The prefix of our continuation tokens, so a token from elsewhere is refused clearly.</summary>
    private const string TokenPrefix = "hh1-";

    private readonly IEventStore _store = store;
    private readonly MessageStamper _stamper = new(catalogue);

    /// <summary>Reads one stored message of an interface; null when the store does not hold it.</summary>
    public async Task<StoredMessage?> ReadAsync(MarketEnvironment environment, string interfaceId, int partition, long offset, CancellationToken cancellationToken)
    {
        var topic = TopicLayout.InterfaceTopic(environment, interfaceId);
        if (!(await _store.ListTopicsAsync(cancellationToken)).Contains(topic))
        {
            return null;
        }

        var range = await _store.RangeAsync(topic, partition, cancellationToken);
        return offset < range.Start || offset >= range.Next || await StoredEventReader.ReadOneAsync(_store, topic, partition, offset, cancellationToken) is not { } stored
            ? null
            : StoredMessage.Read(stored);
    }

    /// <summary>
    /// One page of the replay of <paramref name="dipId"/>'s channel <paramref name="interfaceId"/>.
    /// </summary>
    /// <exception cref="FormatException">The continuation token is not one this service issued.</exception>
    public async Task<ReplayPage> ReplayAsync(MarketEnvironment environment, string dipId, string interfaceId, ReplayQuery query, string? continuationToken, int pageSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pageSize);
        // Status messages are found by the transaction ID they are about, which says nothing of where they are: scan the inbox.
        if (query.TransactionIds is { Count: > 0 } ids && interfaceId != TopicLayout.StatusChannel)
        {
            return await ReplayByIdAsync(environment, dipId, interfaceId, query, ids, cancellationToken);
        }

        // The token is checked first, so a forged one is refused even where there is nothing to replay.
        long? resumeAt = continuationToken is null ? null : ParseToken(continuationToken);
        var inbox = TopicLayout.InboxTopic(environment, dipId, interfaceId);
        if (!(await _store.ListTopicsAsync(cancellationToken)).Contains(inbox))
        {
            return new ReplayPage([], null);
        }

        var position = resumeAt ?? await _store.OffsetAtAsync(inbox, 0, query.From ?? DateTimeOffset.UnixEpoch, cancellationToken);
        var range = await _store.RangeAsync(inbox, 0, cancellationToken);
        position = Math.Max(position, range.Start);
        var messages = new List<byte[]>();
        var identities = new List<(string, string)>();
        var replayed = new HashSet<(string InterfaceId, int Partition, long Offset)>(); // this page's messages, each replayed once
        var examined = 0;
        using var events = new StoredEventReader(_store);
        while (position < range.Next)
        {
            using var batch = await _store.ReadAsync(inbox, 0, position, 64 << 10, cancellationToken);
            if (batch.Events.Count == 0)
            {
                break;
            }

            foreach (var record in batch.Events)
            {
                if (messages.Count == pageSize || examined == MaxExaminedPerPage)
                {
                    return new ReplayPage(messages, Token(record.Offset)) { Identities = identities };
                }

                examined++;
                position = record.Offset + 1;
                if (query.To is { } to && record.Timestamp > to + TimeSpan.FromMinutes(1))
                {
                    // Inboxes are written in time order, moments after acceptance: nothing later can match.
                    return new ReplayPage(messages, null) { Identities = identities };
                }

                var pointer = InboxPointer.Read(record.Value.Span);
                if (replayed.Contains((pointer.InterfaceId, pointer.Partition, pointer.Offset)))
                {
                    continue; // the same message's second pointer (each broker node's indexer writes one)
                }

                var message = await ReadPointedToAsync(events, environment, dipId, pointer, record.Key, cancellationToken);
                if (message is not null && Matches(message, query))
                {
                    replayed.Add((pointer.InterfaceId, pointer.Partition, pointer.Offset));
                    var (transactionId, bytes) = _stamper.Stamp(message, pointer.Partition, pointer.Offset, replay: true);
                    messages.Add(bytes);
                    identities.Add((transactionId, message.Mpan));
                }
            }
        }

        return new ReplayPage(messages, null) { Identities = identities };
    }

    /// <summary>
    /// The message <paramref name="pointer"/> names, when the store holds it there and it is routed to <paramref name="dipId"/>;
    /// null otherwise. A place alone does not name a message for ever: after a nats-server 2.9 leader change the place can
    /// hold another message, perhaps another party's, so the pointer's MPAN key and fingerprint decide
    /// (<see cref="InboxPointer.Check"/>), as they do for a subscription, and the message's routing is checked as a replay by
    /// transaction ID checks it.
    /// </summary>
    private static async Task<StoredMessage?> ReadPointedToAsync(StoredEventReader events, MarketEnvironment environment, string dipId, InboxPointer pointer,
        ReadOnlyMemory<byte> mpanKey, CancellationToken cancellationToken)
    {
        if (await events.ReadAsync(TopicLayout.InterfaceTopic(environment, pointer.InterfaceId), pointer.Partition, pointer.Offset, cancellationToken) is not { } stored)
        {
            return null;
        }

        var message = StoredMessage.Read(stored);
        var found = pointer.Fingerprint is null ? (ulong?)null : InboxPointer.FingerprintOf(stored.Span);
        return InboxPointer.Check(mpanKey.Span, pointer.Fingerprint, message.Mpan, found) == PointerTarget.Named && message.IsRoutedTo(dipId) ? message : null;
    }

    private async Task<ReplayPage> ReplayByIdAsync(MarketEnvironment environment, string dipId, string interfaceId, ReplayQuery query, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        var messages = new List<byte[]>(ids.Count);
        var identities = new List<(string, string)>(ids.Count);
        foreach (var id in ids)
        {
            if (!TransactionId.TryParse(id, out var idInterface, out var partition, out var offset) || idInterface != interfaceId)
            {
                continue;
            }

            var message = await ReadAsync(environment, interfaceId, partition, offset, cancellationToken);
            if (message is not null && message.IsRoutedTo(dipId) && Matches(message, query with { TransactionIds = null }))
            {
                var (transactionId, bytes) = _stamper.Stamp(message, partition, offset, replay: true);
                messages.Add(bytes);
                identities.Add((transactionId, message.Mpan));
            }
        }

        return new ReplayPage(messages, null) { Identities = identities };
    }

    private static bool Matches(StoredMessage message, ReplayQuery query)
        => (query.From is not { } from || message.AcceptedAt >= from) &&
           (query.To is not { } to || message.AcceptedAt <= to) &&
           (string.IsNullOrEmpty(query.EventCode) || string.Equals(query.EventCode.Trim('[', ']'), message.EventCode, StringComparison.Ordinal)) &&
           (string.IsNullOrEmpty(query.Mpan) || string.Equals(query.Mpan, message.Mpan, StringComparison.Ordinal)) &&
           (string.IsNullOrEmpty(query.SenderUniqueReference) || string.Equals(query.SenderUniqueReference, message.SenderUniqueReference, StringComparison.Ordinal)) &&
           (string.IsNullOrEmpty(query.CorrelationId) || string.Equals(query.CorrelationId, message.CorrelationId, StringComparison.Ordinal)) &&
           (query.TransactionIds is not { Count: > 0 } ids || message.InterfaceId != TopicLayout.StatusChannel ||
            ids.Contains(StatusMessage.TransactionIdOf(message.Body.Span), StringComparer.Ordinal));

    private static string Token(long offset) => TokenPrefix + offset.ToString(CultureInfo.InvariantCulture);

    private static long ParseToken(string token)
        => token.StartsWith(TokenPrefix, StringComparison.Ordinal) &&
           long.TryParse(token.AsSpan(TokenPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? offset
            : throw new FormatException($"'{token}' is not a continuation token this backbone issued; send back the X-Continuation-Token of the previous page unchanged.");
}
