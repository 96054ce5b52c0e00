using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Halfhour.Broker.Audit;
using Halfhour.Server.Hosting;
using Halfhour.Server.Identity;
using Halfhour.Server.Problems;

namespace Halfhour.Server.Pull;

/// <summary>
/// The native pull API: <c>GET /native/v1/channels/{id}/messages</c> long-polls for the caller's messages on a channel,
/// each under a lease with a receipt; <c>POST /native/v1/channels/{id}/acknowledgements</c> takes them for good. What is
/// not acknowledged within the visibility timeout is handed out again (at least once, in order per MPAN).
/// </summary>
internal static class PullEndpoints
{
    /// <summary>At most 1,000 messages a fetch: about 6 MB of IF-021, one response a client can hold comfortably.</summary>
    public const int MaxMessages = 1000;

    /// <summary>A long poll lasts at most 60 seconds, below the idle timeouts of common proxies and load balancers.</summary>
    public const int MaxWaitSeconds = 60;

    public static void Map(RouteGroupBuilder participant)
    {
        var native = participant.MapGroup("/native/v1/channels/{id}").AddEndpointFilter<DipSignatureFilter>().WithTags("Native");
        native.MapGet("/messages", FetchAsync)
            .WithSummary("Fetch the caller's messages on a channel (long poll)")
            .Produces<FetchedMessages>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        native.MapPost("/acknowledgements", AcknowledgeAsync)
            .WithSummary("Acknowledge fetched messages by receipt")
            .Accepts<AcknowledgementRequest>("application/json")
            .Produces<AcknowledgementResult>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status400BadRequest);
    }

    private static async Task<IResult> FetchAsync(string id, HttpContext http, int? max, int? waitSeconds)
    {
        var (backbone, problem) = await http.ChannelAsync(id);
        if (problem is not null) return problem;
        var count = max ?? 100;
        var wait = waitSeconds ?? 0;
        if (count is < 1 or > MaxMessages || wait is < 0 or > MaxWaitSeconds)
        {
            return Problem.Result(StatusCodes.Status400BadRequest, "Bad fetch parameters",
                $"max must be 1 to {MaxMessages} and waitSeconds 0 to {MaxWaitSeconds}; got max={count}, waitSeconds={wait}.", "bad-fetch-parameters");
        }

        var caller = http.RequireParticipant().Participant;
        if (await backbone!.ServedSubscriptionAsync(caller.Environment, caller.DipId, id, http.RequestAborted) is not { } subscription)
        {
            return ServedElsewhere(http, backbone);
        }

        IReadOnlyList<Broker.Delivery.Delivery> deliveries;
        try
        {
            deliveries = await subscription.FetchAsync(count, TimeSpan.FromSeconds(wait), http.RequestAborted);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            return TypedResults.Empty; // the client gave up the poll; nothing was handed out
        }

        // The stamped messages are JSON already: written raw, never parsed again.
        var output = new ArrayBufferWriter<byte>(256 + deliveries.Sum(d => d.Message.Length + 96));
        using (var json = new Utf8JsonWriter(output))
        {
            json.WriteStartObject();
            json.WriteStartArray("messages");
            foreach (var delivery in deliveries)
            {
                json.WriteStartObject();
                json.WriteString("receipt", delivery.Receipt);
                json.WriteString("transactionID", delivery.TransactionId);
                json.WriteNumber("deliveryCount", delivery.DeliveryCount);
                json.WritePropertyName("message");
                json.WriteRawValue(delivery.Message, skipInputValidation: true);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return TypedResults.Bytes(output.WrittenMemory.ToArray(), "application/json");
    }

    /// <summary>503 with Retry-After: another broker node serves this channel's pulls now (see <see cref="Broker.Backbone.ServedSubscriptionAsync"/>).</summary>
    private static IResult ServedElsewhere(HttpContext http, Broker.Backbone backbone)
    {
        var retryAfter = (int)Math.Ceiling(backbone.Options.Cluster!.Leases.TakeOverWithin.TotalSeconds);
        http.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problem.Result(StatusCodes.Status503ServiceUnavailable, "Channel served by another node",
            $"Another broker node hands out this channel's messages now. Retry in {retryAfter} s, preferably through the same node as before " +
            "(route a participant to one node); the channel moves here when that node stops.", "served-by-another-node");
    }

    private static async Task<IResult> AcknowledgeAsync(string id, HttpContext http)
    {
        var (backbone, problem) = await http.ChannelAsync(id);
        if (problem is not null) return problem;
        var body = http.Features.Get<RequestBody>()!;
        AcknowledgementRequest? request;
        try
        {
            request = JsonSerializer.Deserialize(body.Memory.Span, PullJsonContext.Default.AcknowledgementRequest);
        }
        catch (JsonException e)
        {
            return Problem.Result(StatusCodes.Status400BadRequest, "Malformed acknowledgement", $"The body is not {{\"receipts\": [\"…\"]}}: {e.Message}", "malformed-acknowledgement");
        }

        if (request?.Receipts is not { } receipts || receipts.Any(r => r is null))
        {
            return Problem.Result(StatusCodes.Status400BadRequest, "Malformed acknowledgement",
                "The body must be {\"receipts\": [\"…\"]} with the receipts of fetched messages.", "malformed-acknowledgement");
        }

        var caller = http.RequireParticipant().Participant;
        if (await backbone!.ServedSubscriptionAsync(caller.Environment, caller.DipId, id, http.RequestAborted) is not { } subscription)
        {
            return ServedElsewhere(http, backbone);
        }

        var acknowledged = await subscription.AckAsync(receipts, http.RequestAborted);
        if (acknowledged > 0)
        {
            await http.AuditAsync(backbone, AuditAction.Received, id, $"Acknowledged {acknowledged} of {receipts.Count} receipts by pull.");
        }

        return TypedResults.Ok(new AcknowledgementResult(acknowledged));
    }
}

/// <summary>A fetch's answer.</summary>
/// <param name="Messages">The messages handed out, in inbox order.</param>
public sealed record FetchedMessages([property: JsonPropertyName("messages")] IReadOnlyList<FetchedMessage> Messages);

/// <summary>One fetched message.</summary>
/// <param name="Receipt">What to acknowledge it with.</param>
/// <param name="TransactionId">Its transaction ID.</param>
/// <param name="DeliveryCount">How often it has been handed out, this time included.</param>
/// <param name="Message">The stamped message, <c>{"payload": …}</c> with D0 filled.</param>
public sealed record FetchedMessage(
    [property: JsonPropertyName("receipt")] string Receipt,
    [property: JsonPropertyName("transactionID")] string TransactionId,
    [property: JsonPropertyName("deliveryCount")] int DeliveryCount,
    [property: JsonPropertyName("message")] JsonElement Message);

/// <summary>The receipts of fetched messages to acknowledge.</summary>
/// <param name="Receipts">Receipts from a fetch.</param>
public sealed record AcknowledgementRequest([property: JsonPropertyName("receipts")] IReadOnlyList<string>? Receipts);

/// <summary>How many receipts were acknowledged (unknown, expired or repeated ones are not counted).</summary>
/// <param name="Acknowledged">The count.</param>
public sealed record AcknowledgementResult([property: JsonPropertyName("acknowledged")] int Acknowledged);

/// <summary>Source-generated JSON of the pull API's requests.</summary>
[JsonSerializable(typeof(AcknowledgementRequest))]
internal sealed partial class PullJsonContext : JsonSerializerContext;
