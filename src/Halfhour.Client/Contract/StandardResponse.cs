using System.Text.Json.Serialization;

namespace Halfhour.Client.Contract;

/// <summary>
/// The DIP's <c>StandardResponse</c>: the answer to a batch sent to a channel, one entry per message and the time
/// the backbone answered (DT-003, <c>yyyy-MM-ddTHH:mm:ss+00:00</c>).
/// </summary>
/// <param name="MessageArray">One result per message, in the order sent.</param>
/// <param name="Timestamp">When the backbone answered.</param>
public sealed record StandardResponse(
    [property: JsonPropertyName("messageArray")] IReadOnlyList<MessageResponse> MessageArray,
    [property: JsonPropertyName("timestamp")] string Timestamp);

/// <summary>
/// The DIP's <c>StandardResponseBodyType</c>: the result of one message. Every property is always written,
/// null when it does not apply, as the schema requires.
/// </summary>
/// <param name="TransactionId">The backbone's transaction ID when the message was accepted.</param>
/// <param name="SenderUniqueReference">The sender's unique reference, echoed.</param>
/// <param name="CorrelationId">The sender's correlation ID, echoed.</param>
/// <param name="SentTimestamp">The sender timestamp, echoed (DT-003).</param>
/// <param name="SenderId">The sender's DIP ID.</param>
/// <param name="RecipientId">The recipient's DIP ID, where one applies.</param>
/// <param name="DipConnectionProviderId">The connection provider's DIP ID, where one applies.</param>
/// <param name="Message">The result in the <c>MSGnnnn - Text</c> form.</param>
/// <param name="Help">What is wrong and what to do, for a refused message.</param>
/// <param name="ServiceTicketUrl">A link to a service ticket, where one exists.</param>
public sealed record MessageResponse(
    [property: JsonPropertyName("transactionID")] string? TransactionId,
    [property: JsonPropertyName("senderUniqueReference")] string? SenderUniqueReference,
    [property: JsonPropertyName("correlationID")] string? CorrelationId,
    [property: JsonPropertyName("sentTimestamp")] string? SentTimestamp,
    [property: JsonPropertyName("senderID")] string? SenderId,
    [property: JsonPropertyName("recipientID")] string? RecipientId,
    [property: JsonPropertyName("DIPConnectionProviderID")] string? DipConnectionProviderId,
    [property: JsonPropertyName("message")] string? Message,
    [property: JsonPropertyName("help")] string? Help,
    [property: JsonPropertyName("serviceTicketURL")] string? ServiceTicketUrl);
