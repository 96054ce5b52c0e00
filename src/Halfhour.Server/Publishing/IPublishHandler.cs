using Halfhour.Broker.Publishing;
using Halfhour.Client.Contract;
using Halfhour.Market.Validation;
using Halfhour.Server.Identity;

namespace Halfhour.Server.Publishing;

/// <summary>
/// The seam between the participant API and the broker: a batch sent to <c>POST /dip-channel/{id}</c> that has
/// passed identity, signature and request limits. The server has checked that the body is a well-formed JSON
/// array of at most the allowed number of elements; everything about the messages themselves (schema,
/// entitlement, semantics, de-duplication, routing, storage) is the handler's.
/// </summary>
public interface IPublishHandler
{
    /// <summary>Publishes a batch and returns the per-message results.</summary>
    ValueTask<PublishOutcome> PublishAsync(PublishRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// The validator whose verdicts the handler takes from the server, or null (the default) when it validates the messages
    /// itself. With one, the server validates each message on the reader of its shape check as it meets it, so a message is
    /// tokenised once, and hands the verdicts over as <see cref="PublishRequest.Validated"/>.
    /// </summary>
    ValueTask<IMessageValidator?> GetValidatorAsync(CancellationToken cancellationToken) => ValueTask.FromResult<IMessageValidator?>(null);
}

/// <summary>A verified batch.</summary>
/// <param name="Sender">The authenticated participant.</param>
/// <param name="ChannelId">The interface ID from the path, e.g. <c>IF-021</c>.</param>
/// <param name="Body">The body exactly as signed: a JSON array of <c>{"payload": …}</c> messages. Valid only until the returned task completes (the buffer is pooled).</param>
/// <param name="MessageCount">How many elements the array has (at least one).</param>
public sealed record PublishRequest(AuthenticatedParticipant Sender, string ChannelId, ReadOnlyMemory<byte> Body, int MessageCount)
{
    /// <summary>Where each message lies in <see cref="Body"/>, when the server's shape check found them and did not validate them (the handler need not read the array again).</summary>
    public IReadOnlyList<Range>? MessageRanges { get; init; }

    /// <summary>Every message with its verdict, when the handler named a validator (<see cref="IPublishHandler.GetValidatorAsync"/>).</summary>
    public ValidatedBatch? Validated { get; init; }
}

/// <summary>What the broker answers, in the DIP's terms.</summary>
/// <param name="StatusCode">201 when every message was accepted, 207 when some were, 400 when none were, 503 when nothing could be stored.</param>
/// <param name="Messages">One result per message, in the order received (the StandardResponse <c>messageArray</c>).</param>
public sealed record PublishOutcome(int StatusCode, IReadOnlyList<MessageResponse> Messages);
