using Halfhour.Client.Signing;
using Halfhour.Server.Hosting;
using Halfhour.Server.Participants;
using Halfhour.Server.Problems;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Halfhour.Server.Identity;

/// <summary>
/// The second half of identity on DIP endpoints, after the participant is known: the body is JSON (415), within
/// the size limit (413), and carries DIP signature headers that verify against a certificate registered to that
/// participant and were not seen before (401 with the exact reason). The verified body is then available to the
/// endpoint as a <see cref="RequestBody"/> feature.
/// </summary>
internal sealed class DipSignatureFilter(DipSignatureVerifier verifier, ParticipantRegistry registry, HalfhourServerOptions options, AuditRecorder audit) : IEndpointFilter
{
    // The challenge of a refused signature (RFC 9110 requires one on a 401): the headers that must verify.
    private const string SignatureChallenge =
        "DIP-Signature headers=\"X-DIP-Signature X-DIP-Signature-Date X-DIP-Content-Hash X-DIP-Signature-Certificate\"";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var request = http.Request;
        var participant = http.RequireParticipant();

        // The server's own verdict, right for HTTP/1.1 (length or chunked) and HTTP/2 (frames without a length) alike.
        var hasBody = http.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? request.ContentLength > 0;
        if (hasBody && !IsJson(request.ContentType))
        {
            return Problem.Result(StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
                $"The body is '{request.ContentType ?? "(no Content-Type)"}'; DIP channels take a JSON array of messages as application/json.",
                "unsupported-media-type");
        }

        var body = await RequestBody.ReadAsync(request, options.Limits.MaxRequestBodyBytes, http.RequestAborted);
        if (body is null)
        {
            return Problem.Result(StatusCodes.Status413PayloadTooLarge, "Request body too large",
                $"The request body exceeds {options.Limits.MaxRequestBodyBytes} bytes; split the batch into smaller requests.", "body-too-large");
        }

        var registered = registry.CertificateThumbprints(participant.Key);
        var headers = DipSignatureHeaders.Read(name => request.Headers.TryGetValue(name, out var v) ? v.ToString() : null);
        var verification = verifier.Verify(request.Method, request.GetEncodedUrl(), headers, body.Memory.Span, registered);
        if (!verification.IsValid)
        {
            if (verification.Failure != SignatureFailure.ReplayGuardSaturated) http.Response.Headers.WWWAuthenticate = SignatureChallenge;
            audit.Record(Broker.Audit.AuditAction.AuthenticationFailed, participant.Participant.DipId, participant.Participant.Environment.ToString(),
                $"{request.Method} {request.Path}", $"{verification.Reason}: {verification.Detail}");
            return verification.Failure == SignatureFailure.ReplayGuardSaturated
                ? Problem.Result(StatusCodes.Status503ServiceUnavailable, "Signature cannot be checked now", verification.Detail, verification.Reason)
                : Problem.Result(StatusCodes.Status401Unauthorized, "Message signature refused", verification.Detail, verification.Reason);
        }

        http.Features.Set(body);
        return await next(context);
    }

    private static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase))
        && (media.Charset.Length == 0 || media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));
}
