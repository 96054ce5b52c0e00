using System.Text.Json;
using System.Text.Json.Serialization;
using Halfhour.Broker.Audit;
using Halfhour.Broker.Delivery;
using Halfhour.Server.Hosting;
using Halfhour.Server.Identity;
using Halfhour.Server.Problems;

namespace Halfhour.Server.Push;

/// <summary>
/// <c>POST /dip-channel/{id}/pubconfig/{recipient-id}</c> registers where the backbone pushes a recipient's messages of a
/// channel (the DIP's WebhookConfig), 201; <c>DELETE</c> removes it, 204, and the recipient pulls again. Only the
/// recipient itself may do either (403 otherwise). <c>/statusmessage/config/{recipient-id}</c> does the same for the status
/// messages sent to the recipient about messages it sent (mapped with the status-message family).
/// </summary>
internal static class WebhookConfigEndpoints
{
    /// <summary>At most 1,000 messages a push, as a participant may send at most that many in one request.</summary>
    public const int MaxMessageCount = 1000;

    public static void Map(RouteGroupBuilder participant)
    {
        var group = participant.MapGroup("/dip-channel/{id}/pubconfig/{recipientId}").AddEndpointFilter<DipSignatureFilter>().WithTags("DIP");
        group.MapPost("", (string id, string recipientId, HttpContext http, CallbackAddressPolicy policy) => SetAsync(id, false, recipientId, http, policy))
            .WithSummary("Register the recipient's webhook for a channel");
        group.MapDelete("", (string id, string recipientId, HttpContext http) => RemoveAsync(id, false, recipientId, http))
            .WithSummary("Remove the recipient's webhook for a channel");
    }

    /// <summary>Registers the recipient's webhook for channel <paramref name="id"/>, the status-message channel where <paramref name="statusMessages"/>.</summary>
    internal static async Task<IResult> SetAsync(string id, bool statusMessages, string recipientId, HttpContext http, CallbackAddressPolicy policy)
    {
        var (backbone, problem) = await http.ChannelAsync(id, recipientId, statusMessages);
        if (problem is not null) return problem;

        WebhookConfigRequest? request = null;
        try
        {
            request = JsonSerializer.Deserialize(http.Features.Get<RequestBody>()!.Memory.Span, PushJsonContext.Default.WebhookConfigRequest);
        }
        catch (JsonException e)
        {
            return Invalid($"The body is not a WebhookConfig {{callbackURL, maxMessageCount, maxPayloadSize}}: {e.Message}");
        }

        if (request is null) return Invalid("The body is empty; send a WebhookConfig {callbackURL, maxMessageCount, maxPayloadSize}.");
        var caller = http.RequireParticipant().Participant;
        if (policy.Refusal(request.CallbackUrl, caller.Environment) is { } refusal)
        {
            return Problem.Result(StatusCodes.Status400BadRequest, "Callback URL not allowed", refusal, "callback-url-refused");
        }

        if (!TryCount(request.MaxMessageCount, 1, MaxMessageCount, out var count))
        {
            return Invalid($"maxMessageCount must be a whole number from 1 to {MaxMessageCount} (or absent for the default); got {request.MaxMessageCount}.");
        }

        if (!TryCount(request.MaxPayloadSize, 1, int.MaxValue, out var kilobytes))
        {
            return Invalid($"maxPayloadSize is in kilobytes and must be a whole number of at least 1 (or absent for no limit); got {request.MaxPayloadSize}.");
        }

        var config = new WebhookConfig(new Uri(request.CallbackUrl!), count, kilobytes);
        await backbone!.Webhooks.SetAsync(caller.Environment, caller.DipId, id, config, http.RequestAborted);
        await http.AuditAsync(backbone, AuditAction.ConfigurationChanged, id,
            $"Webhook for {id} set to {config.CallbackUrl} (maxMessageCount {count}, maxPayloadSize {kilobytes} Kb; 0 = default).");
        return TypedResults.Created(http.Request.Path.Value,
            new WebhookConfigRequest(config.CallbackUrl.ToString(), count == 0 ? null : count, kilobytes == 0 ? null : kilobytes));
    }

    /// <summary>Removes the recipient's webhook for channel <paramref name="id"/>.</summary>
    internal static async Task<IResult> RemoveAsync(string id, bool statusMessages, string recipientId, HttpContext http)
    {
        var (backbone, problem) = await http.ChannelAsync(id, recipientId, statusMessages);
        if (problem is not null) return problem;
        var caller = http.RequireParticipant().Participant;
        if (backbone!.Webhooks.Get(caller.Environment, caller.DipId, id) is not null)
        {
            await backbone.Webhooks.SetAsync(caller.Environment, caller.DipId, id, null, http.RequestAborted);
            await http.AuditAsync(backbone, AuditAction.ConfigurationChanged, id, $"Webhook for {id} removed; the recipient pulls.");
        }

        return TypedResults.NoContent();
    }

    // The DIP types these as JSON numbers; a whole number in range is what makes sense. Absent means "the default" (0).
    private static bool TryCount(double? value, int min, int max, out int count)
    {
        count = 0;
        if (value is null) return true;
        if (value != Math.Floor(value.Value) || value < min || value > max) return false;
        count = (int)value.Value;
        return true;
    }

    private static IResult Invalid(string detail) => Problem.Result(StatusCodes.Status400BadRequest, "Invalid webhook configuration", detail, "invalid-webhook-config");
}

/// <summary>The DIP's WebhookConfig as sent and answered.</summary>
/// <param name="CallbackUrl">Where the backbone POSTs arrays of messages.</param>
/// <param name="MaxMessageCount">At most this many messages per POST; absent for the default (100).</param>
/// <param name="MaxPayloadSize">At most this many kilobytes per POST; absent for no limit.</param>
public sealed record WebhookConfigRequest(
    [property: JsonPropertyName("callbackURL")] string? CallbackUrl,
    [property: JsonPropertyName("maxMessageCount")] double? MaxMessageCount,
    [property: JsonPropertyName("maxPayloadSize")] double? MaxPayloadSize);

/// <summary>Source-generated JSON of the push API.</summary>
[JsonSerializable(typeof(WebhookConfigRequest))]
[JsonSourceGenerationOptions(UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
internal sealed partial class PushJsonContext : JsonSerializerContext;
