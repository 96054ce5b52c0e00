using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Halfhour.Market.Validation;

namespace Halfhour.Broker.StatusMessages;

/// <summary>
/// A status message a participant sent to <c>/statusmessage</c> (one DIP <c>StandardResponseBodyType</c>): what a
/// recipient says about a message it received after accepting it, e.g. an asynchronous rejection. The broker reads
/// the few fields it routes by; the body is the status message's JSON, delivered as sent with <c>recipientID</c> set to
/// the sender of the message it is about.
/// </summary>
/// <param name="TransactionId">The transaction ID of the message the status is about.</param>
/// <param name="SenderId">The status sender's DIP ID as the message states it (it must be the caller's).</param>
/// <param name="RecipientId">The recipient the status sender named, or null (the backbone knows it).</param>
/// <param name="SenderUniqueReference">The status sender's own reference, or null.</param>
/// <param name="CorrelationId">The conversation's correlation ID, or null.</param>
/// <param name="Body">The status message as a JSON object.</param>
public sealed record StatusMessage(string TransactionId, string SenderId, string? RecipientId, string? SenderUniqueReference, string? CorrelationId, ReadOnlyMemory<byte> Body)
{
    /// <summary>Why the message's fields already fail the DIP's types (checked where the wire format is read), or null.</summary>
    public ValidationResult? Refusal { get; init; }

    /// <summary>The transaction ID a stored status message is about (its <c>transactionID</c>).</summary>
    public static string TransactionIdOf(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        reader.Read();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var found = reader.ValueTextEquals("transactionID"u8);
            reader.Read();
            if (found)
            {
                return reader.GetString() ?? "";
            }

            reader.Skip();
        }

        throw new InvalidDataException("A stored status message has no transactionID.");
    }

    /// <summary>The body addressed: <c>recipientID</c> set to <paramref name="recipientId"/>, everything else as sent.</summary>
    public byte[] AddressedTo(string recipientId)
    {
        var json = JsonNode.Parse(Body.Span)!.AsObject();
        json["recipientID"] = recipientId;
        return Encoding.UTF8.GetBytes(json.ToJsonString());
    }
}
