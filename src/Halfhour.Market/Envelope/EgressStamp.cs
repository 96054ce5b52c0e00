namespace Halfhour.Market.Envelope;

/// <summary>What the backbone stamps on a message as it delivers it: the addressing it added (A0) and the D0 block.</summary>
public sealed record EgressStamp
{
    /// <summary>D0.transactionID: the backbone's ID of the accepted event (at most 65 characters).</summary>
    public required string TransactionId { get; init; }

    /// <summary>D0.transactionTimestamp: when the event was accepted; written in UTC.</summary>
    public required DateTimeOffset TransactionTimestamp { get; init; }

    /// <summary>D0.publicationID: the interface's publication, e.g. <c>PUB-021</c>.</summary>
    public required string PublicationId { get; init; }

    /// <summary>D0.initialCorrelationID: the correlation ID of the conversation's first message, or null.</summary>
    public string? InitialCorrelationId { get; init; }

    /// <summary>D0.replayIndicator: true when this delivery is a replay of an earlier one.</summary>
    public bool ReplayIndicator { get; init; }

    /// <summary>A0.secondaryRecipients: the recipients the catalogue's routing rules added.</summary>
    public IReadOnlyList<string> SecondaryRecipients { get; init; } = [];

    /// <summary>A0.always: the recipients that receive every message of the interface.</summary>
    public IReadOnlyList<string> Always { get; init; } = [];
}
