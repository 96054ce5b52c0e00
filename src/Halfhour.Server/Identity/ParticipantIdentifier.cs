using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;
using Halfhour.Client.Signing;
using Halfhour.Client.Transport;
using Halfhour.Server.Participants;

namespace Halfhour.Server.Identity;

/// <summary>
/// The identity policy: a caller is identified by its mutual-TLS client certificate and/or its <c>X-API-Key</c>.
/// A certificate counts only when it chains to the backbone's authority, is valid now and is registered; an API
/// key only when its hash is registered. When both are presented they must name the same participant in the
/// same environment. With <see cref="Hosting.HalfhourServerOptions.RequireClientCertificate"/> an API key alone is not enough.
/// </summary>
public sealed class ParticipantIdentifier(ParticipantRegistry registry, PrivateCaTrust trust, bool requireClientCertificate, TimeProvider clock)
{
    /// <summary>The header that carries the API key.</summary>
    public const string ApiKeyHeader = "X-API-Key";

    /// <summary>The <c>WWW-Authenticate</c> challenge a 401 carries (RFC 9110 requires one): the API key header.</summary>
    public const string Challenge = "ApiKey header=\"X-API-Key\"";

    // Building an X.509 chain costs about a millisecond and its answer for one certificate changes only with time,
    // so it is remembered for a minute (never past the certificate's expiry). Only registered certificates reach
    // the check, so the memory holds at most one entry per certificate ever registered.
    private static readonly TimeSpan s_trustMemory = TimeSpan.FromMinutes(1);
    private readonly ConcurrentDictionary<string, (string? Problem, DateTimeOffset Until)> _trustChecked = new(StringComparer.Ordinal);

    /// <summary>Identifies a caller from what it presented; exactly one of the results is non-null.</summary>
    public (AuthenticatedParticipant? Participant, IdentityFailure? Failure) Identify(X509Certificate2? certificate, string? apiKey)
    {
        apiKey = string.IsNullOrWhiteSpace(apiKey) ? null : apiKey.Trim();
        if (certificate is null && apiKey is null)
        {
            return Refuse("no-credentials", "No credentials were presented: connect with the participant's client certificate (mutual TLS)" +
                (requireClientCertificate ? "." : $" or send its {ApiKeyHeader} header."));
        }

        if (certificate is null && requireClientCertificate)
        {
            return Refuse("client-certificate-required", $"This backbone requires the participant's client certificate (mutual TLS); an {ApiKeyHeader} alone is not accepted.");
        }

        RegisteredParticipant? byCertificate = null;
        if (certificate is not null)
        {
            var thumbprint = DipSignatureVerifier.Thumbprint(certificate);
            byCertificate = registry.FindByCertificate(thumbprint);
            if (byCertificate is null)
            {
                return Refuse("client-certificate-not-registered",
                    $"The client certificate {certificate.Subject} (SHA-256 {thumbprint}) is not registered to any participant; use the certificate issued for your DIP ID or ask the operator to register this one.");
            }

            if (CheckTrust(certificate, thumbprint) is { } untrusted)
            {
                return Refuse("client-certificate-untrusted", untrusted + " Renew it with the operator.");
            }
        }

        RegisteredParticipant? byApiKey = null;
        if (apiKey is not null)
        {
            byApiKey = registry.FindByApiKey(apiKey);
            if (byApiKey is null)
            {
                return Refuse("api-key-not-registered",
                    $"The {ApiKeyHeader} presented is not registered (it may have been rotated); use the key issued for your DIP ID.");
            }
        }

        if (byCertificate is not null && byApiKey is not null && byCertificate.Key != byApiKey.Key)
        {
            return (null, new IdentityFailure(StatusCodes.Status403Forbidden, "Credentials disagree",
                $"The client certificate identifies participant {byCertificate.Key} but the {ApiKeyHeader} identifies participant {byApiKey.Key}; " +
                "present the credentials of one participant.", "credentials-disagree"));
        }

        var identified = (byCertificate is null ? IdentifiedBy.None : IdentifiedBy.ClientCertificate)
            | (byApiKey is null ? IdentifiedBy.None : IdentifiedBy.ApiKey);
        return (new AuthenticatedParticipant((byCertificate ?? byApiKey)!.Participant, identified), null);
    }

    private string? CheckTrust(X509Certificate2 certificate, string thumbprint)
    {
        var now = clock.GetUtcNow();
        if (_trustChecked.TryGetValue(thumbprint, out var known) && known.Until > now) return known.Problem;
        var problem = trust.Check(certificate, ExtendedKeyUsage.ClientAuthentication, now);
        var expiry = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        _trustChecked[thumbprint] = (problem, now + s_trustMemory < expiry ? now + s_trustMemory : expiry);
        return problem;
    }

    private static (AuthenticatedParticipant?, IdentityFailure?) Refuse(string reason, string detail) =>
        (null, IdentityFailure.Unauthenticated(reason, detail));
}
