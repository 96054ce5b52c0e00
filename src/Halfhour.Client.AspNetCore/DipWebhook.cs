using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Halfhour.Client.Contract;
using Halfhour.Client.Messages;
using Halfhour.Client.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Routing;

namespace Halfhour.Client.AspNetCore;

/// <summary>What a webhook handler decided about one message.</summary>
public sealed record MessageVerdict
{
    private MessageVerdict(string message, string? help)
    {
        Message = message;
        Help = help;
    }

    /// <summary>Taken: the backbone will not offer it again.</summary>
    public static MessageVerdict Accept { get; } = new("MSG0000 - Success", null);

    /// <summary>The result in the DIP's <c>MSGnnnn - Text</c> form.</summary>
    public string Message { get; }

    /// <summary>What is wrong, for a refused message.</summary>
    public string? Help { get; }

    /// <summary>True when the message was taken.</summary>
    public bool Accepted => Message.StartsWith("MSG0000", StringComparison.Ordinal);

    /// <summary>Refused with a result code and text (e.g. <c>MSG1002 - Semantic Failure</c>) and why; the backbone offers it again later.</summary>
    public static MessageVerdict Refuse(string message, string? help = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(message);
        return new MessageVerdict(message, help);
    }
}

/// <summary>How a DIP webhook endpoint checks what arrives.</summary>
public sealed record DipWebhookOptions
{
    /// <summary>The backbone's signing certificates (its <c>backbone.pem</c>); a push signed by any other is refused with 401.</summary>
    public required IReadOnlyList<X509Certificate2> BackboneCertificates { get; init; }

    /// <summary>The allowed clock skew of signatures.</summary>
    public SignatureVerificationOptions Verification { get; init; } = new();

    /// <summary>Refuse a push whose exact signature was seen before (a captured request sent again).</summary>
    public bool RefuseReplayedSignatures { get; init; } = true;

    /// <summary>
    /// The public URL the backbone calls, when this endpoint sits behind a proxy that changes scheme, host or path;
    /// null: the URL of the request as it arrives. The signature covers the URL the backbone called.
    /// </summary>
    public Uri? PublicUrl { get; init; }

    /// <summary>Loads the backbone's certificate from a PEM file (e.g. <c>DATA/sandbox/backbone.pem</c>).</summary>
    public static DipWebhookOptions FromBackboneCertificate(string pemPath) =>
        new() { BackboneCertificates = [X509Certificate2.CreateFromPem(File.ReadAllText(pemPath))] };
}

/// <summary>
/// Maps a participant's DIP webhook: every POST from the backbone is checked (DIP signature by the backbone's certificate,
/// body hash, date window, replay), its messages are handed to a handler one by one in the order sent, and the answer
/// follows the DIP: 201 when every message was taken, 207 with a StandardResponse naming each message's result when some
/// were refused (those, and those whose handler threw, are offered again later), 401 for a bad signature, 400 for a body
/// that is not an array of messages.
/// </summary>
public static class DipWebhookEndpoint
{
    /// <summary>Maps the webhook at <paramref name="pattern"/> with a handler that decides per message.</summary>
    public static RouteHandlerBuilder MapDipWebhook(this IEndpointRouteBuilder endpoints, string pattern, DipWebhookOptions options,
        Func<DipMessage, CancellationToken, Task<MessageVerdict>> handler)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        var thumbprints = options.BackboneCertificates.Select(DipSignatureVerifier.Thumbprint).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var verifier = new DipSignatureVerifier(options.Verification, replayGuard: options.RefuseReplayedSignatures
            ? new SignatureReplayGuard(new ReplayGuardOptions { Retention = options.Verification.AllowedClockSkew })
            : null);
        return endpoints.MapPost(pattern, (Func<HttpContext, Task<IResult>>)(http => ReceiveAsync(http, options, verifier, thumbprints, handler)));
    }

    /// <summary>Maps the webhook with a handler that takes every message it returns from and refuses (for a later retry) those it throws on.</summary>
    public static RouteHandlerBuilder MapDipWebhook(this IEndpointRouteBuilder endpoints, string pattern, DipWebhookOptions options,
        Func<DipMessage, CancellationToken, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return endpoints.MapDipWebhook(pattern, options, async (message, cancellationToken) =>
        {
            await handler(message, cancellationToken).ConfigureAwait(false);
            return MessageVerdict.Accept;
        });
    }

    private static async Task<IResult> ReceiveAsync(HttpContext http, DipWebhookOptions options, DipSignatureVerifier verifier, IReadOnlySet<string> backbone,
        Func<DipMessage, CancellationToken, Task<MessageVerdict>> handler)
    {
        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, http.RequestAborted).ConfigureAwait(false);
        var body = buffer.ToArray();
        var headers = DipSignatureHeaders.Read(name => http.Request.Headers.TryGetValue(name, out var v) ? v.ToString() : null);
        var url = options.PublicUrl?.AbsoluteUri ?? http.Request.GetEncodedUrl();
        var verification = verifier.Verify(http.Request.Method, url, headers, body, backbone);
        if (!verification.IsValid)
        {
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Signature not verified", detail: verification.Detail,
                extensions: new Dictionary<string, object?> { ["reason"] = verification.Reason });
        }

        IReadOnlyList<DipMessage> messages;
        try
        {
            messages = DipMessage.ParseMany(body);
        }
        catch (Exception e) when (e is JsonException or FormatException)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Not DIP messages", detail: e.Message,
                extensions: new Dictionary<string, object?> { ["reason"] = "malformed-batch" });
        }

        var results = new List<MessageResponse>(messages.Count);
        var refused = 0;
        foreach (var message in messages)
        {
            MessageVerdict verdict;
            try
            {
                verdict = await handler(message, http.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !http.RequestAborted.IsCancellationRequested)
            {
                // Not taken: the backbone offers it again later, as it does for any message a 207 does not report taken.
                verdict = MessageVerdict.Refuse("MSG1500 - Storage Unavailable - Retry", $"The receiver's handler failed: {e.Message}");
            }

            if (!verdict.Accepted) refused++;
            results.Add(new MessageResponse(message.TransactionId, message.SenderUniqueReference, message.CorrelationId, null, message.SenderDipId,
                null, null, verdict.Message, verdict.Help, null));
        }

        var answer = new StandardResponse(results, DipTime.Format(DateTimeOffset.UtcNow));
        return Results.Json(answer, statusCode: refused == 0 ? StatusCodes.Status201Created : StatusCodes.Status207MultiStatus);
    }
}
