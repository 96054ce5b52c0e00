using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Halfhour.Server.Identity;

/// <summary>
/// The ASP.NET Core face of <see cref="ParticipantIdentifier"/>: runs it on the endpoints that require a
/// participant, and answers a refusal with its specific problem details instead of a bare 401.
/// </summary>
internal sealed class ParticipantAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ParticipantIdentifier identifier,
    Hosting.AuditRecorder audit)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Participant";
    public const string PolicyName = "Participant";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        // The certificate arrived in the TLS handshake; this only reads what Kestrel kept.
        var certificate = await Context.Connection.GetClientCertificateAsync(Context.RequestAborted);
        var apiKey = Request.Headers.TryGetValue(ParticipantIdentifier.ApiKeyHeader, out var values) ? values.ToString() : null;
        var (participant, failure) = identifier.Identify(certificate, apiKey);
        if (failure is not null)
        {
            Context.Features.Set(failure);
            audit.AuthenticationFailed(Context, failure.Reason, failure.Detail);
            return AuthenticateResult.Fail(failure.Detail);
        }

        Context.Features.Set(participant!);
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, participant!.Participant.DipId),
                new Claim(ClaimTypes.Role, participant.Participant.Role.ToString()),
                new Claim("environment", participant.Participant.Environment.ToString()),
            ], SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = Context.Features.Get<IdentityFailure>()
            ?? IdentityFailure.Unauthenticated("no-credentials", "This endpoint requires a participant's client certificate or X-API-Key.");
        if (failure.Status == StatusCodes.Status401Unauthorized) Response.Headers.WWWAuthenticate = ParticipantIdentifier.Challenge;
        await Problems.Problem.WriteAsync(Context, failure.ToProblem());
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        await Problems.Problem.WriteAsync(Context, Problems.Problem.Create(StatusCodes.Status403Forbidden, "Forbidden",
            "The participant is identified but may not use this endpoint.", "forbidden"));
}
