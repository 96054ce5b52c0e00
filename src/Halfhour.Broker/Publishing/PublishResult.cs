using Halfhour.Market.Validation;

namespace Halfhour.Broker.Publishing;

/// <summary>The outcome of one message of a published batch, as the participant API reports it.</summary>
public sealed record MessageResult
{
    /// <summary>The result code.</summary>
    public required MessageCode Code { get; init; }

    /// <summary>The transaction ID when the message is stored (new or earlier), else null.</summary>
    public string? TransactionId { get; init; }

    /// <summary>The sender's unique reference, when the message carried a readable one.</summary>
    public string? SenderUniqueReference { get; init; }

    /// <summary>The sender's correlation ID, when given.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>The sender's timestamp as sent, when readable.</summary>
    public string? SentTimestamp { get; init; }

    /// <summary>The first recipient of the message, when it was accepted.</summary>
    public string? RecipientId { get; init; }

    /// <summary>Every recipient the backbone will deliver the message to, when it was accepted.</summary>
    public IReadOnlyList<string> Recipients { get; init; } = [];

    /// <summary>Where and why validation failed, when it did.</summary>
    public ValidationResult? Failure { get; init; }

    /// <summary>True when the message is stored (now or by an earlier request).</summary>
    public bool IsAccepted => MessageCodes.IsAccepted(Code);
}

/// <summary>The outcome of a whole published batch.</summary>
/// <param name="Messages">One result per message, in the order sent.</param>
public sealed record PublishResult(IReadOnlyList<MessageResult> Messages)
{
    /// <summary>How many messages were accepted (new or duplicates of accepted ones).</summary>
    public int AcceptedCount
    {
        get
        {
            var count = 0;
            foreach (var message in Messages)
            {
                count += message.IsAccepted ? 1 : 0;
            }

            return count;
        }
    }

    /// <summary>All accepted (201), some (207), or none (400), as the DIP answers.</summary>
    public int StatusCode => AcceptedCount == Messages.Count ? 201 : AcceptedCount > 0 ? 207 : 400;
}
