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
/// not acknowledged within the visibility timeout is handed out again (at least once, in order per MPAN). The channel
/// <c>statusmessage</c> carries the status messages other participants sent about the caller's messages.
/// </summary>
internal static class PullEndpoints
{
    /// <summary>At most 1,000 messages a fetch: about 6 MB of IF-021, one response a client can hold comfortably.</summary>
    public const int MaxMessages = 1000;

    /// <summary>A long poll lasts at most 60 seconds, below the idle timeouts of common proxies and load balancers.</summary>
    public const int MaxWaitSeconds = 60;

    /// <summary>What the OpenAPI document says a channel is.</summary>
    private const string ChannelDescription =
        "{id} is an interface ID such as IF-021 (the messages routed to the caller), or 'statusmessage': the status messages (DIP StandardResponseBodyType, " +
        "e.g. an asynchronous rejection) that recipients sent about messages the caller sent, each named by the transactionID of the message it is about.";

    public static void Map(RouteGroupBuilder participant)
    {
        var native = participant.MapGroup("/native/v1/channels/{id}").AddEndpointFilter<DipSignatureFilter>().WithTags("Native");
        native.MapGet("/messages", FetchAsync)
            .WithSummary("Fetch the caller's messages on a channel (long poll)")
            .WithDescription(ChannelDescription + " Each message comes with a receipt to acknowledge it by; what is not acknowledged within the visibility timeout comes back.")
            .Produces<FetchedMessages>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound);
        native.MapPost("/acknowledgements", AcknowledgeAsync)
            .WithSummary("Acknowledge fetched messages by receipt")
            .WithDescription(ChannelDescription)
            .Accepts<AcknowledgementRequest>("application/json")
            .Produces<AcknowledgementResult>(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status400BadRequest);
    }

    private static async Task<IResult> FetchAsync(string id, HttpContext http, int? max, int? waitSeconds)
    {
        var (backbone, problem) = await http.ChannelAsync(id, statusMessages: true);
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

        return new FetchedMessagesResult(deliveries);
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
        var (backbone, problem) = await http.ChannelAsync(id, statusMessages: true);
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

/// <summary>
/// A fetch's answer (<see cref="FetchedMessages"/>) written straight to the response: the stamped messages are JSON
/// already and are copied raw, never parsed or buffered again (an answer of hundreds of messages is megabytes).
/// Receipts and transaction IDs are the backbone's own (digits, letters and hyphens), so they need no escaping.
/// Each message's framing (the comma and closing brace around it, its receipt, transaction ID and delivery count) is
/// written into one span: every span taken from and handed back to Kestrel's response writer takes its lock, and a
/// write of each small piece apart took a dozen of those per message.
/// </summary>
internal sealed class FetchedMessagesResult(IReadOnlyList<Broker.Delivery.Delivery> deliveries) : IResult
{
    // Hand what is written to the connection every 256 KiB, so TLS and the socket start on a large answer early.
    private const int FlushBytes = 256 << 10;

    // A delivery count has at most 10 digits (a positive int).
    private const int MaxCountDigits = 10;

    private static ReadOnlySpan<byte> Open => "{\"messages\":["u8;
    private static ReadOnlySpan<byte> Receipt => "{\"receipt\":\""u8;
    private static ReadOnlySpan<byte> TransactionId => "\",\"transactionID\":\""u8;
    private static ReadOnlySpan<byte> DeliveryCount => "\",\"deliveryCount\":"u8;
    private static ReadOnlySpan<byte> Message => ",\"message\":"u8;
    private static ReadOnlySpan<byte> Close => "]}"u8;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var length = (long)Open.Length + Close.Length + Math.Max(0, deliveries.Count - 1);
        foreach (var delivery in deliveries)
        {
            length += Receipt.Length + delivery.Receipt.Length + TransactionId.Length + delivery.TransactionId.Length + DeliveryCount.Length +
                      Digits(delivery.DeliveryCount) + Message.Length + delivery.Message.Length + 1;
        }

        var response = httpContext.Response;
        response.ContentType = "application/json";
        response.ContentLength = length;
        // Headers first: what is written before the response has started is buffered apart by Kestrel and copied again
        // when the headers go out (a quarter of a large answer, copied twice).
        await response.StartAsync(httpContext.RequestAborted);
        var body = response.BodyWriter;
        body.Write(Open);
        var unflushed = 0L;
        for (var i = 0; i < deliveries.Count; i++)
        {
            var delivery = deliveries[i];
            body.Advance(WriteFraming(body.GetSpan(FramingBytes(delivery)), delivery, first: i == 0));
            body.Write(delivery.Message);
            unflushed += delivery.Message.Length;
            if (unflushed >= FlushBytes)
            {
                unflushed = 0;
                await body.FlushAsync(httpContext.RequestAborted);
            }
        }

        body.Write(deliveries.Count > 0 ? "}]}"u8 : Close);
        await body.FlushAsync(httpContext.RequestAborted);
    }

    /// <summary>The most bytes <see cref="WriteFraming"/> writes before a message.</summary>
    private static int FramingBytes(Broker.Delivery.Delivery delivery) =>
        2 + Receipt.Length + delivery.Receipt.Length + TransactionId.Length + delivery.TransactionId.Length + DeliveryCount.Length + MaxCountDigits + Message.Length;

    /// <summary>
    /// Writes what comes before a message: the end of the previous one (<c>},</c>) unless it is the <paramref name="first"/>,
    /// then its receipt, transaction ID and delivery count up to <c>"message":</c>. Returns the bytes written.
    /// </summary>
    private static int WriteFraming(Span<byte> span, Broker.Delivery.Delivery delivery, bool first)
    {
        var at = 0;
        if (!first)
        {
            span[at++] = (byte)'}';
            span[at++] = (byte)',';
        }

        at += Copy(Receipt, span[at..]);
        at += System.Text.Encoding.ASCII.GetBytes(delivery.Receipt, span[at..]);
        at += Copy(TransactionId, span[at..]);
        at += System.Text.Encoding.ASCII.GetBytes(delivery.TransactionId, span[at..]);
        at += Copy(DeliveryCount, span[at..]);
        delivery.DeliveryCount.TryFormat(span[at..], out var digits, provider: System.Globalization.CultureInfo.InvariantCulture);
        at += digits;
        return at + Copy(Message, span[at..]);
    }

    private static int Copy(ReadOnlySpan<byte> text, Span<byte> destination)
    {
        text.CopyTo(destination);
        return text.Length;
    }

    /// <summary>The decimal digits of a delivery count (at least 1), counted without formatting it.</summary>
    private static int Digits(int value)
    {
        var digits = 1;
        for (; value >= 10; value /= 10)
        {
            digits++;
        }

        return digits;
    }
}

/// <summary>A fetch's answer.</summary>
/// <param name="Messages">The messages handed out, in inbox order.</param>
public sealed record FetchedMessages([property: JsonPropertyName("messages")] IReadOnlyList<FetchedMessage> Messages);

/// <summary>One fetched message.</summary>
/// <param name="Receipt">What to acknowledge it with.</param>
/// <param name="TransactionId">Its transaction ID; for a status message, that of the message it is about.</param>
/// <param name="DeliveryCount">How often it has been handed out, this time included.</param>
/// <param name="Message">The stamped message, <c>{"payload": …}</c> with D0 filled; on the <c>statusmessage</c> channel a status message (StandardResponseBodyType).</param>
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
