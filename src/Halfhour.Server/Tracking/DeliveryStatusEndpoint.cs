using System.Globalization;
using System.Text.Json.Serialization;
using Halfhour.Broker.Delivery;
using Halfhour.Server.Hosting;
using Halfhour.Server.Identity;

namespace Halfhour.Server.Tracking;

/// <summary>
/// <c>GET /dip-channel/{id}/deliveryStatus/{recipient-id}/{message-id}</c>: where a message routed to the caller stands,
/// as a DIPJournalRecord with two journal entries (Inbound: accepted; Outbound: the delivery status). The message ID is
/// the DIP transaction ID. 204 when the message is unknown or was not routed to the caller: the answer never reveals
/// whether someone else's message exists.
/// </summary>
internal static class DeliveryStatusEndpoint
{
    public static void Map(RouteGroupBuilder participant) =>
        participant.MapGet("/dip-channel/{id}/deliveryStatus/{recipientId}/{messageId}", GetAsync)
            .AddEndpointFilter<DipSignatureFilter>()
            .WithTags("DIP")
            .WithSummary("The delivery status of a message routed to the caller");

    private static async Task<IResult> GetAsync(string id, string recipientId, string messageId, HttpContext http)
    {
        var (backbone, problem) = await http.ChannelAsync(id, recipientId);
        if (problem is not null) return problem;
        var caller = http.RequireParticipant().Participant;
        var state = await backbone!.DeliveryStateAsync(caller.Environment, caller.DipId, id, messageId, http.RequestAborted);
        if (state is null) return TypedResults.NoContent();

        var known = http.RequestServices.GetService<BackboneHost>()?.Delivery?.StatusOf(caller.Environment, caller.DipId, id, messageId);
        var status = state.Acknowledged
            ? known is DeliveryStatus.RetriesExhausted ? DeliveryStatus.RetriesExhausted : DeliveryStatus.Delivered
            : known is { } pushing && pushing != DeliveryStatus.Delivered ? pushing : DeliveryStatus.Pending;

        var message = state.Message;
        var sent = message.AcceptedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var correlation = message.CorrelationId.Length == 0 ? null : message.CorrelationId;
        var mpan = message.Mpan.Length == 0 ? null : message.Mpan;
        JournalEntry Entry(int row, string stage, string journalStatus, int statusCode, string? reason) => new(
            message.AcceptedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture), message.SenderDipId, id, message.EventCode, reason,
            sent, 0, 0, message.SenderUniqueReference, messageId, correlation, mpan, stage, journalStatus, statusCode, row);

        return TypedResults.Ok(new DipJournalRecord(sent, id, message.SenderUniqueReference, messageId, correlation, mpan, status.ToString(),
        [
            Entry(1, "Inbound", "GoodToGo", StatusCodes.Status201Created, null),
            status == DeliveryStatus.Pending
                ? Entry(2, "Addressing", "SentToTopic", StatusCodes.Status200OK, "Routed to the recipient; not yet taken.")
                : Entry(2, "Outbound", status.ToString(), status == DeliveryStatus.Delivered ? StatusCodes.Status200OK : StatusCodes.Status202Accepted, Reason(status)),
        ]));
    }

    private static string? Reason(DeliveryStatus status) => status switch
    {
        DeliveryStatus.Retrying => "The recipient's webhook did not take it yet; the backbone is retrying.",
        DeliveryStatus.RetriesExhausted => "The recipient's webhook refused it every time; requeue it to try again.",
        DeliveryStatus.Paused => "The recipient's webhook refuses requests; delivery resumes when it recovers or is reconfigured.",
        _ => null,
    };
}

/// <summary>The DIP's DIPJournalRecord, with the backbone's <c>DeliveryStatus</c> summary beside it.</summary>
/// <param name="SentDateTime">When the backbone accepted the message.</param>
/// <param name="Interface">The interface ID.</param>
/// <param name="SenderUniqueReference">The sender's unique reference.</param>
/// <param name="DipTransactionId">The transaction ID.</param>
/// <param name="DipCorrelationId">The correlation ID, when there is one.</param>
/// <param name="MpanCore">The MPAN core, when the message is about one.</param>
/// <param name="DeliveryStatus">Pending, Delivered, Retrying, RetriesExhausted or Paused (a Halfhour extension).</param>
/// <param name="JournalEntries">The stages the message went through.</param>
public sealed record DipJournalRecord(
    [property: JsonPropertyName("SentDateTime")] string SentDateTime,
    [property: JsonPropertyName("Interface")] string Interface,
    [property: JsonPropertyName("SenderUniqueReference")] string SenderUniqueReference,
    [property: JsonPropertyName("DIPTransactionID")] string DipTransactionId,
    [property: JsonPropertyName("DIPCorrelationID")] string? DipCorrelationId,
    [property: JsonPropertyName("MPANCore")] string? MpanCore,
    [property: JsonPropertyName("DeliveryStatus")] string DeliveryStatus,
    [property: JsonPropertyName("JournalEntries")] IReadOnlyList<JournalEntry> JournalEntries);

/// <summary>The DIP's JournalEntry: one stage of a message.</summary>
/// <param name="TimeGenerated">When the entry was made.</param>
/// <param name="SenderDipId">The sender.</param>
/// <param name="Interface">The interface ID.</param>
/// <param name="EventCode">The event code.</param>
/// <param name="Reason">Why, for anything but success.</param>
/// <param name="SentDateTime">When the message was accepted.</param>
/// <param name="Duration">Processing time in milliseconds (not measured: 0).</param>
/// <param name="MessageDelayInMilliSeconds">Delay in milliseconds (not measured: 0).</param>
/// <param name="SenderUniqueReference">The sender's unique reference.</param>
/// <param name="DipTransactionId">The transaction ID.</param>
/// <param name="DipCorrelationId">The correlation ID, when there is one.</param>
/// <param name="MpanCore">The MPAN core, when there is one.</param>
/// <param name="DipStage">Inbound, Addressing or Outbound.</param>
/// <param name="Status">The DIPStatusValue of the stage.</param>
/// <param name="StatusCode">The HTTP status of the stage.</param>
/// <param name="Row">The entry's number in the journal.</param>
public sealed record JournalEntry(
    [property: JsonPropertyName("TimeGenerated")] string TimeGenerated,
    [property: JsonPropertyName("SenderDIPID")] string SenderDipId,
    [property: JsonPropertyName("Interface")] string Interface,
    [property: JsonPropertyName("EventCode")] string EventCode,
    [property: JsonPropertyName("Reason")] string? Reason,
    [property: JsonPropertyName("SentDateTime")] string SentDateTime,
    [property: JsonPropertyName("Duration")] int Duration,
    [property: JsonPropertyName("MessageDelayInMilliSeconds")] int MessageDelayInMilliSeconds,
    [property: JsonPropertyName("SenderUniqueReference")] string SenderUniqueReference,
    [property: JsonPropertyName("DIPTransactionID")] string DipTransactionId,
    [property: JsonPropertyName("DIPCorrelationID")] string? DipCorrelationId,
    [property: JsonPropertyName("MPANCore")] string? MpanCore,
    [property: JsonPropertyName("DIPStage")] string DipStage,
    [property: JsonPropertyName("Status")] string Status,
    [property: JsonPropertyName("StatusCode")] int StatusCode,
    [property: JsonPropertyName("rn")] int Row);
