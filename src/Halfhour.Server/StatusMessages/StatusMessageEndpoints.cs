using System.Text.Json;
using System.Text.Json.Serialization;
using Halfhour.Broker.StatusMessages;
using Halfhour.Broker.Topics;
using Halfhour.Client.Contract;
using Halfhour.Server.Hosting;
using Halfhour.Server.Identity;
using Halfhour.Server.Problems;
using Halfhour.Server.Publishing;
using Halfhour.Server.Push;
using Halfhour.Server.Replay;
using Microsoft.AspNetCore.Mvc;

namespace Halfhour.Server.StatusMessages;

/// <summary>
/// The DIP's status-message family. <c>POST /statusmessage</c>: a participant sends status messages (an array of the DIP's StandardResponseBodyType) about
/// messages it received, e.g. an asynchronous rejection; each goes to the sender of the message its transactionID names.
/// A body that is not such an array (not JSON, not an array, a field missing or of the wrong type, an unknown field) is a
/// problem detail. Otherwise the answer is the DIP's StandardResponse with one result per status message: 201 when all
/// were stored; else nothing was stored and the status says why — 400 (a field breaks its type, or senderID or
/// recipientID is wrong), 404 (a transactionID names no message in the caller's environment), 403 (a message was not
/// routed to the caller). The rest treat the status messages sent to the caller as one more channel
/// (<see cref="TopicLayout.StatusChannel"/>), with the dip-channel handlers: <c>config/{recipient-id}</c> its webhook,
/// <c>replay</c>, <c>requeue</c> and <c>requeueStatus</c> as for a channel, filtered by the DIP's StatusMessageRequest.
/// </summary>
internal static class StatusMessageEndpoints
{
    private const string Channel = TopicLayout.StatusChannel;

    public static void Map(RouteGroupBuilder participant)
    {
        var family = participant.MapGroup("/statusmessage").AddEndpointFilter<DipSignatureFilter>().WithTags("DIP");
        family.MapPost("", SubmitAsync).WithSummary("Send status messages about messages the caller received, to their senders");
        family.MapPost("/config/{recipientId}", (string recipientId, HttpContext http, CallbackAddressPolicy policy) =>
            WebhookConfigEndpoints.SetAsync(Channel, true, recipientId, http, policy)).WithSummary("Register the recipient's webhook for status messages");
        family.MapDelete("/config/{recipientId}", (string recipientId, HttpContext http) =>
            WebhookConfigEndpoints.RemoveAsync(Channel, true, recipientId, http)).WithSummary("Remove the recipient's webhook for status messages");
        family.MapPost("/replay/{recipientId}", (string recipientId, HttpContext http, HalfhourServerOptions options) =>
            ReplayEndpoints.ReplayAsync(Channel, true, recipientId, http, options)).WithSummary("Replay the status messages sent to the caller, in pages");
        family.MapPost("/requeue/{recipientId}", (string recipientId, HttpContext http) =>
            ReplayEndpoints.RequeueAsync(Channel, true, recipientId, http)).WithSummary("Re-push the status messages sent to the caller to its status webhook");
        family.MapGet("/requeueStatus/{recipientId}", (string recipientId, HttpContext http, [FromQuery(Name = "requeue-id")] string? requeueId) =>
            ReplayEndpoints.RequeueStatusAsync(Channel, true, recipientId, http, requeueId)).WithSummary("The progress of the caller's requeues of status messages");
    }

    private static async Task<IResult> SubmitAsync(HttpContext http, HalfhourServerOptions options, TimeProvider clock)
    {
        var backbone = await http.BackboneAsync();
        if (backbone is null)
        {
            return Problem.Result(StatusCodes.Status503ServiceUnavailable, "Backbone not running",
                "This server runs without a backbone (Halfhour:Backbone:Enabled is false), so it holds no messages to send status about; ask the operator.", "backbone-not-running");
        }

        var body = http.Features.Get<RequestBody>()!.Memory;
        var shape = MessageBatch.Check(body.Span, options.Limits.MaxMessagesPerRequest, options.Limits.MaxJsonDepth);
        if (shape.Error is not null)
        {
            return shape.TooMany
                ? Problem.Result(StatusCodes.Status413PayloadTooLarge, "Too many status messages", shape.Error, "too-many-messages")
                : Malformed(shape.Error);
        }

        List<MessageResponse>? messages;
        try
        {
            messages = JsonSerializer.Deserialize(body.Span, StatusMessageJsonContext.Default.ListMessageResponse);
        }
        catch (JsonException e)
        {
            return Malformed($"The body is not an array of status messages (StandardResponseBodyType: transactionID, senderUniqueReference, correlationID, " +
                             $"sentTimestamp, senderID, recipientID, DIPConnectionProviderID, message, help, serviceTicketURL, each present, null where it does not apply): {e.Message}");
        }

        if (messages is null || messages.Contains(null!))
        {
            return Malformed("Every element of the array must be a status message object, not null.");
        }

        var caller = http.RequireParticipant().Participant;
        var result = await backbone.StatusMessages.PublishAsync(caller, [.. messages.Select(ToStatusMessage)], http.RequestAborted);
        var answers = result.Messages.Select((m, i) => BackbonePublishHandler.ToResponse(m, caller.DipId) with
        {
            SentTimestamp = messages[i].SentTimestamp,
            DipConnectionProviderId = messages[i].DipConnectionProviderId,
        }).ToList();
        return TypedResults.Json(new StandardResponse(answers, DipChannelEndpoint.DipTimestamp(clock.GetUtcNow())), statusCode: result.StatusCode);
    }

    /// <summary>What the broker routes by, the body as the DIP's schema writes it (every field, null where absent), and any field type it breaks.</summary>
    private static StatusMessage ToStatusMessage(MessageResponse message)
    {
        var fields = StatusMessageFields.Check(message);
        return new StatusMessage(message.TransactionId ?? "", message.SenderId ?? "", message.RecipientId, message.SenderUniqueReference, message.CorrelationId,
            JsonSerializer.SerializeToUtf8Bytes(message, StatusMessageJsonContext.Default.MessageResponse))
        {
            Refusal = fields.IsValid ? null : fields,
        };
    }

    private static IResult Malformed(string detail) => Problem.Result(StatusCodes.Status400BadRequest, "Malformed status messages", detail, "malformed-status-messages");
}

/// <summary>
/// Source-generated JSON of status messages as participants send them: as strict as the DIP's schema, so every field
/// must be present (null where it does not apply) and no other field is allowed.
/// </summary>
[JsonSerializable(typeof(List<MessageResponse>))]
[JsonSourceGenerationOptions(UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, RespectRequiredConstructorParameters = true)]
internal sealed partial class StatusMessageJsonContext : JsonSerializerContext;
