using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Halfhour.Broker.Audit;
using Halfhour.Broker.Delivery;
using Halfhour.Broker.Replay;
using Halfhour.Server.Hosting;
using Halfhour.Server.Identity;
using Halfhour.Server.Problems;
using Microsoft.AspNetCore.Mvc;

namespace Halfhour.Server.Replay;

/// <summary>
/// What a recipient can have again of what was routed to it, never anyone else's: <c>replay</c> answers the
/// matching messages in pages (200, or 206 with <c>X-Continuation-Token</c> to send back for the next page);
/// <c>requeue</c> re-pushes them to its webhook in the background (202 with a requeue ID, one at a time per
/// recipient, 429 while one runs); <c>requeueStatus</c> tells how far they got (204 when there is none).
/// Replayed and requeued messages carry replayIndicator true. The <c>/statusmessage/replay|requeue|requeueStatus</c>
/// paths (mapped with the status-message family) do the same for the status messages sent to the caller, filtered by
/// the DIP's StatusMessageRequest.
/// </summary>
internal static class ReplayEndpoints
{
    /// <summary>The header that carries the position of the next replay page, both ways.</summary>
    public const string ContinuationHeader = "X-Continuation-Token";

    /// <summary>A requeue in progress is asked about again after five seconds, no sooner.</summary>
    private const int BusyRetryAfterSeconds = 5;

    public static void Map(RouteGroupBuilder participant)
    {
        var group = participant.MapGroup("/dip-channel/{id}").AddEndpointFilter<DipSignatureFilter>().WithTags("DIP");
        group.MapPost("/replay/{recipientId}", (string id, string recipientId, HttpContext http, HalfhourServerOptions options) => ReplayAsync(id, false, recipientId, http, options))
            .WithSummary("Replay the caller's messages of a channel, in pages");
        group.MapPost("/requeue/{recipientId}", (string id, string recipientId, HttpContext http) => RequeueAsync(id, false, recipientId, http))
            .WithSummary("Re-push the caller's messages of a channel to its webhook");
        group.MapGet("/requeueStatus/{recipientId}", (string id, string recipientId, HttpContext http, [FromQuery(Name = "requeue-id")] string? requeueId) =>
            RequeueStatusAsync(id, false, recipientId, http, requeueId)).WithSummary("The progress of the caller's requeues on a channel");
    }

    /// <summary>One page of the replay of channel <paramref name="id"/> (the status-message channel where <paramref name="statusMessages"/>).</summary>
    internal static async Task<IResult> ReplayAsync(string id, bool statusMessages, string recipientId, HttpContext http, HalfhourServerOptions options)
    {
        var (backbone, problem) = await http.ChannelAsync(id, recipientId, statusMessages);
        if (problem is not null) return problem;
        if (!TryQuery(http, statusMessages, out var query, out problem)) return problem;

        var caller = http.RequireParticipant().Participant;
        var token = http.Request.Headers.TryGetValue(ContinuationHeader, out var sent) && sent.ToString().Length > 0 ? sent.ToString() : null;
        ReplayPage page;
        try
        {
            page = await backbone!.Replays.ReplayAsync(caller.Environment, caller.DipId, id, query, token, options.Backbone.ReplayPageSize, http.RequestAborted);
        }
        catch (FormatException e)
        {
            return Problem.Result(StatusCodes.Status400BadRequest, "Unknown continuation token", e.Message, "bad-continuation-token");
        }

        if (token is null)
        {
            await http.AuditAsync(backbone, AuditAction.Replayed, id, $"Replay asked: {Describe(query)}.");
        }

        if (page.ContinuationToken is { } next) http.Response.Headers[ContinuationHeader] = next;
        var body = TypedResults.Bytes(MessageArray.Join(page.Messages.Count, i => page.Messages[i]), "application/json");
        return page.ContinuationToken is null ? body : new StatusResult(StatusCodes.Status206PartialContent, body);
    }

    /// <summary>Starts a requeue of channel <paramref name="id"/> to the caller's webhook.</summary>
    internal static async Task<IResult> RequeueAsync(string id, bool statusMessages, string recipientId, HttpContext http)
    {
        var (backbone, problem) = await http.ChannelAsync(id, recipientId, statusMessages);
        if (problem is not null) return problem;
        if (!TryQuery(http, statusMessages, out var query, out problem)) return problem;
        var runner = http.RequestServices.GetRequiredService<BackboneHost>().Requeues;
        if (runner is null)
        {
            return Problem.Result(StatusCodes.Status503ServiceUnavailable, "Requeue not available", "This server pushes no webhooks, so it cannot requeue; use replay.", "requeue-unavailable");
        }

        var caller = http.RequireParticipant().Participant;
        string requeueId;
        try
        {
            requeueId = runner.Start(caller.Environment, caller.DipId, id, query);
        }
        catch (RequeueBusyException busy)
        {
            http.Response.Headers.RetryAfter = BusyRetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            return Problem.Result(StatusCodes.Status429TooManyRequests, "A requeue is running",
                $"Requeue {busy.RunningRequeueId} is still running; one requeue at a time per recipient. Follow it with requeueStatus and ask again when it has finished.",
                "requeue-running");
        }
        catch (InvalidOperationException e)
        {
            return Problem.Result(StatusCodes.Status400BadRequest, "No webhook to requeue to", e.Message, "no-webhook");
        }

        await http.AuditAsync(backbone!, AuditAction.Requeued, id, $"Requeue {requeueId} started: {Describe(query)}.");
        return TypedResults.Json(requeueId, statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>The caller's requeues of channel <paramref name="id"/>.</summary>
    internal static async Task<IResult> RequeueStatusAsync(string id, bool statusMessages, string recipientId, HttpContext http, string? requeueId)
    {
        var (_, problem) = await http.ChannelAsync(id, recipientId, statusMessages);
        if (problem is not null) return problem;
        var caller = http.RequireParticipant().Participant;
        var statuses = http.RequestServices.GetRequiredService<BackboneHost>().Requeues?.StatusOf(caller.Environment, caller.DipId, id, requeueId) ?? [];
        if (statuses.Count == 0) return TypedResults.NoContent();
        return TypedResults.Ok(statuses.Select(s => new RequeueStatusView(s.RequeueId, s.PercentComplete, s.TotalTransactions, s.ProcessedTransactions, s.State.ToString(), s.Detail)));
    }

    private static bool TryQuery(HttpContext http, bool statusMessages, out ReplayQuery query, out IResult problem)
        => statusMessages ? TryStatusQuery(http, out query, out problem) : TryMessageQuery(http, out query, out problem);

    private static bool TryMessageQuery(HttpContext http, out ReplayQuery query, out IResult problem)
    {
        query = null!;
        if (!TryRead(http, ReplayJsonContext.Default.MessageRequest, "a MessageRequest {datetimeFrom, datetimeTo, eventCode, MPAN, transactionIDs, version}", out var request, out problem) ||
            !TryPeriod(request.DatetimeFrom, request.DatetimeTo, required: false, out var from, out var to, out problem))
        {
            return false;
        }

        if (request.TransactionIds is { Count: 0 or > 100 })
        {
            problem = Invalid("transactionIDs holds 1 to 100 transaction IDs, or is left out.");
            return false;
        }

        query = new ReplayQuery(from, to, request.EventCode, request.Mpan, request.TransactionIds);
        return true;
    }

    private static bool TryStatusQuery(HttpContext http, out ReplayQuery query, out IResult problem)
    {
        query = null!;
        if (!TryRead(http, ReplayJsonContext.Default.StatusMessageRequest, "a StatusMessageRequest {datetimeFrom, datetimeTo, transactionID, senderUniqueReference, correlationID}",
                out var request, out problem) ||
            !TryPeriod(request.DatetimeFrom, request.DatetimeTo, required: true, out var from, out var to, out problem))
        {
            return false;
        }

        query = new ReplayQuery(from, to, null, null, request.TransactionId is { } id ? [id] : null)
        {
            SenderUniqueReference = request.SenderUniqueReference,
            CorrelationId = request.CorrelationId,
        };
        return true;
    }

    private static bool TryRead<T>(HttpContext http, JsonTypeInfo<T> type, string expected, [NotNullWhen(true)] out T? request, out IResult problem)
        where T : class
    {
        problem = null!;
        try
        {
            request = JsonSerializer.Deserialize(http.Features.Get<RequestBody>()!.Memory.Span, type);
        }
        catch (JsonException e)
        {
            request = null;
            problem = Invalid($"The body is not {expected}: {e.Message}");
            return false;
        }

        if (request is null)
        {
            problem = Invalid($"The body is empty; send {expected} (null for the filters you do not want).");
            return false;
        }

        return true;
    }

    private static bool TryPeriod(string? fromText, string? toText, bool required, out DateTimeOffset? from, out DateTimeOffset? to, out IResult problem)
    {
        problem = null!;
        to = null;
        if (required && (string.IsNullOrEmpty(fromText) || string.IsNullOrEmpty(toText)))
        {
            from = null;
            problem = Invalid("datetimeFrom and datetimeTo are both required here: DT-003 date-times such as 2026-11-27T09:00:00+00:00.");
            return false;
        }

        if (!TryInstant(fromText, out from) || !TryInstant(toText, out to))
        {
            problem = Invalid($"datetimeFrom and datetimeTo must be DT-003 date-times such as 2026-11-27T09:00:00+00:00{(required ? "" : ", or null")}; got '{fromText}' and '{toText}'.");
            return false;
        }

        if (from > to)
        {
            problem = Invalid("datetimeFrom is after datetimeTo; nothing could match.");
            return false;
        }

        return true;
    }

    private static bool TryInstant(string? text, out DateTimeOffset? instant)
    {
        instant = null;
        if (string.IsNullOrEmpty(text)) return true;
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)) return false;
        instant = parsed;
        return true;
    }

    private static string Describe(ReplayQuery q) => string.Create(CultureInfo.InvariantCulture,
        $"from {q.From?.ToString("O", CultureInfo.InvariantCulture) ?? "the start"} to {q.To?.ToString("O", CultureInfo.InvariantCulture) ?? "now"}, event code {q.EventCode ?? "any"}, MPAN {q.Mpan ?? "any"}, {q.TransactionIds?.Count ?? 0} transaction IDs" +
          $"{(q.SenderUniqueReference is { } reference ? $", sender unique reference {reference}" : "")}{(q.CorrelationId is { } correlation ? $", correlation ID {correlation}" : "")}");

    private static IResult Invalid(string detail) => Problem.Result(StatusCodes.Status400BadRequest, "Invalid message request", detail, "invalid-message-request");

    /// <summary>An answer with another status code around a result (206 around the page's bytes).</summary>
    private sealed class StatusResult(int status, IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            return inner.ExecuteAsync(httpContext);
        }
    }
}

/// <summary>The DIP's MessageRequest: which messages to replay or requeue. Every filter may be null.</summary>
/// <param name="DatetimeFrom">Accepted at or after (DT-003).</param>
/// <param name="DatetimeTo">Accepted at or before (DT-003).</param>
/// <param name="EventCode">Only this event code.</param>
/// <param name="Mpan">Only this MPAN core.</param>
/// <param name="TransactionIds">Only these transaction IDs (1 to 100).</param>
/// <param name="Version">The schema version asked for (recorded, not used: messages are replayed as they were sent).</param>
public sealed record MessageRequest(
    [property: JsonPropertyName("datetimeFrom")] string? DatetimeFrom,
    [property: JsonPropertyName("datetimeTo")] string? DatetimeTo,
    [property: JsonPropertyName("eventCode")] string? EventCode,
    [property: JsonPropertyName("MPAN")] string? Mpan,
    [property: JsonPropertyName("transactionIDs")] IReadOnlyList<string>? TransactionIds,
    [property: JsonPropertyName("version")] string? Version);

/// <summary>The DIP's RequeueStatus, with the reason beside it when a requeue stopped short.</summary>
/// <param name="RequeueId">The requeue ID.</param>
/// <param name="PercentComplete">Taken over matched, in percent.</param>
/// <param name="TotalTransactions">How many messages matched.</param>
/// <param name="ProcessedTransactions">How many the webhook took.</param>
/// <param name="Status">Processing, Completed, Failed or PartialCompletion.</param>
/// <param name="Detail">Why it failed or stopped short (a Halfhour extension).</param>
public sealed record RequeueStatusView(
    [property: JsonPropertyName("requeueId")] string RequeueId,
    [property: JsonPropertyName("percentComplete")] double PercentComplete,
    [property: JsonPropertyName("totalTransactions")] long TotalTransactions,
    [property: JsonPropertyName("processedTransactions")] long ProcessedTransactions,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("detail")] string? Detail);

/// <summary>The DIP's StatusMessageRequest: which status messages to replay or requeue. The period is required, the rest may be null.</summary>
/// <param name="DatetimeFrom">Accepted at or after (DT-003).</param>
/// <param name="DatetimeTo">Accepted at or before (DT-003).</param>
/// <param name="TransactionId">Only status messages about this message.</param>
/// <param name="SenderUniqueReference">Only status messages with this sender unique reference.</param>
/// <param name="CorrelationId">Only status messages with this correlation ID.</param>
public sealed record StatusMessageRequest(
    [property: JsonPropertyName("datetimeFrom")] string? DatetimeFrom,
    [property: JsonPropertyName("datetimeTo")] string? DatetimeTo,
    [property: JsonPropertyName("transactionID")] string? TransactionId,
    [property: JsonPropertyName("senderUniqueReference")] string? SenderUniqueReference,
    [property: JsonPropertyName("correlationID")] string? CorrelationId);

/// <summary>Source-generated JSON of the replay API.</summary>
[JsonSerializable(typeof(MessageRequest))]
[JsonSerializable(typeof(StatusMessageRequest))]
[JsonSourceGenerationOptions(UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
internal sealed partial class ReplayJsonContext : JsonSerializerContext;
