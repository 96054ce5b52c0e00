using Halfhour.Client.Messages;

namespace Halfhour.Client.Transport;

/// <summary>A message fetched from the caller's inbox on a channel, under a lease until acknowledged or the visibility timeout passes.</summary>
/// <param name="Channel">The channel it came from.</param>
/// <param name="Receipt">What to acknowledge it with.</param>
/// <param name="TransactionId">Its transaction ID.</param>
/// <param name="DeliveryCount">How often it has been handed out, this time included (above 1: an earlier fetch was not acknowledged in time).</param>
/// <param name="Message">The stamped message, D0 filled.</param>
public sealed record ReceivedMessage(string Channel, string Receipt, string TransactionId, int DeliveryCount, DipMessage Message);

/// <summary>Which messages to replay or requeue (the DIP's MessageRequest); every filter may be left out.</summary>
/// <param name="From">Accepted at or after.</param>
/// <param name="To">Accepted at or before.</param>
/// <param name="EventCode">Only this event code, e.g. <c>[ActivePower]</c>.</param>
/// <param name="Mpan">Only this MPAN core.</param>
/// <param name="TransactionIds">Only these transaction IDs (1 to 100).</param>
public sealed record MessageQuery(DateTimeOffset? From = null, DateTimeOffset? To = null, string? EventCode = null, string? Mpan = null,
    IReadOnlyList<string>? TransactionIds = null);

/// <summary>The progress of one requeue (the DIP's RequeueStatus).</summary>
/// <param name="RequeueId">The requeue ID.</param>
/// <param name="PercentComplete">Taken over matched, in percent.</param>
/// <param name="TotalTransactions">How many messages matched.</param>
/// <param name="ProcessedTransactions">How many the webhook took.</param>
/// <param name="Status">Processing, Completed, Failed or PartialCompletion.</param>
/// <param name="Detail">Why it failed or stopped short.</param>
public sealed record RequeueStatus(string RequeueId, double PercentComplete, long TotalTransactions, long ProcessedTransactions, string Status, string? Detail);

/// <summary>How <see cref="DipClient.ConsumeAsync"/> polls.</summary>
public sealed record ConsumeOptions
{
    /// <summary>Messages per fetch (1 to 1,000).</summary>
    public int MaxMessages { get; init; } = 100;

    /// <summary>How long one fetch waits for messages (0 to 60 s): long polls keep the loop cheap when the inbox is empty.</summary>
    public TimeSpan Wait { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Stop when a fetch comes back empty instead of polling on (to drain an inbox).</summary>
    public bool StopWhenEmpty { get; init; }

    /// <summary>Called when the handler throws for a message; it is not acknowledged and comes back after the visibility timeout.</summary>
    public Action<ReceivedMessage, Exception>? OnHandlerError { get; init; }
}
