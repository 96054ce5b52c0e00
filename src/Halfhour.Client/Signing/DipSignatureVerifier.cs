using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Halfhour.Client.Signing;

/// <summary>How strict a <see cref="DipSignatureVerifier"/> is about time.</summary>
public sealed record SignatureVerificationOptions
{
    /// <summary>
    /// Five minutes: wide enough for participants' clocks kept by ordinary NTP and for a request queued briefly
    /// in their outbound path, narrow enough that a captured request goes stale quickly (and the replay guard
    /// that covers the window stays small).
    /// </summary>
    public static readonly TimeSpan DefaultClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>How far the signature date may lie before or after the verifier's clock.</summary>
    public TimeSpan AllowedClockSkew { get; init; } = DefaultClockSkew;
}

/// <summary>
/// Verifies the DIP signing headers of a request or webhook push against the certificates registered to the
/// participant the sender claims to be: the headers are well formed, the date is inside the skew window, the
/// certificate is a registered one valid at that date, the body matches its hash, the RSA PKCS#1 v1.5 SHA-256
/// signature verifies over <c>METHOD;lowercase(url);date;hash</c>, and (with a replay guard) it was not seen before.
/// Every refusal names its reason. Thread-safe.
/// </summary>
public sealed class DipSignatureVerifier
{
    private readonly SignatureVerificationOptions _options;
    private readonly TimeProvider _clock;
    private readonly SignatureReplayGuard? _replayGuard;

    /// <summary>Creates a verifier; without a replay guard a replayed request inside the window is not detected.</summary>
    public DipSignatureVerifier(SignatureVerificationOptions? options = null, TimeProvider? clock = null, SignatureReplayGuard? replayGuard = null)
    {
        _options = options ?? new SignatureVerificationOptions();
        _clock = clock ?? TimeProvider.System;
        _replayGuard = replayGuard;
    }

    /// <summary>Verifies against registered certificates.</summary>
    public SignatureVerification Verify(string method, string fullUrl, DipSignatureHeaders headers, ReadOnlySpan<byte> body,
        IEnumerable<X509Certificate2> registeredCertificates)
    {
        ArgumentNullException.ThrowIfNull(registeredCertificates);
        var thumbprints = registeredCertificates.Select(Thumbprint).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return Verify(method, fullUrl, headers, body, thumbprints);
    }

    /// <summary>Verifies against the SHA-256 thumbprints (hex, any case) of the registered certificates.</summary>
    public SignatureVerification Verify(string method, string fullUrl, DipSignatureHeaders headers, ReadOnlySpan<byte> body,
        IReadOnlySet<string> registeredThumbprints)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(fullUrl);
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(registeredThumbprints);

        if (Missing(headers) is { } missing)
        {
            return SignatureVerification.Refused(SignatureFailure.MissingHeader,
                $"The {missing} header is missing; every request carries X-DIP-Signature, X-DIP-Signature-Date, X-DIP-Content-Hash and X-DIP-Signature-Certificate.");
        }

        var claimedHash = headers.ContentHash!.Trim();
        if (!TryDecodeBase64(claimedHash, out var claimedHashBytes) || claimedHashBytes.Length != SHA256.HashSizeInBytes)
        {
            return Malformed(DipSignatureHeaders.ContentHashName, "is not base64 of a 32-byte SHA-256 digest");
        }

        if (!StringToSign.TryParseDate(headers.SignatureDate!, out var signedAt))
        {
            return Malformed(DipSignatureHeaders.SignatureDateName,
                $"'{headers.SignatureDate}' is not an ISO 8601 date-time with an offset (e.g. {StringToSign.FormatDate(_clock.GetUtcNow())})");
        }

        if (CheckWindow(signedAt) is { } outside) return outside;

        if (!TryDecodeCertificate(headers.SignatureCertificate!, out var certificate, out var why))
        {
            return Malformed(DipSignatureHeaders.SignatureCertificateName, why);
        }

        using (certificate)
        {
            var thumbprint = Thumbprint(certificate);
            if (!registeredThumbprints.Contains(thumbprint))
            {
                return SignatureVerification.Refused(SignatureFailure.CertificateNotRegistered,
                    $"The certificate in X-DIP-Signature-Certificate ({certificate.Subject}, SHA-256 {thumbprint}) is not registered to this participant; " +
                    "sign with a certificate registered to your DIP ID, or ask the operator to register this one.", signedAt, thumbprint);
            }

            if (signedAt.UtcDateTime < certificate.NotBefore.ToUniversalTime() || signedAt.UtcDateTime > certificate.NotAfter.ToUniversalTime())
            {
                return SignatureVerification.Refused(SignatureFailure.CertificateNotValidAtSigningDate,
                    $"The signing certificate (SHA-256 {thumbprint}) is valid from {Iso(certificate.NotBefore)} to {Iso(certificate.NotAfter)}, " +
                    $"which does not include the signature date {Iso(signedAt)}; sign with a current registered certificate.", signedAt, thumbprint);
            }

            Span<byte> actualHash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(body, actualHash);
            if (!CryptographicOperations.FixedTimeEquals(actualHash, claimedHashBytes))
            {
                return SignatureVerification.Refused(SignatureFailure.ContentHashMismatch,
                    $"The body's SHA-256 is {Convert.ToBase64String(actualHash)} but X-DIP-Content-Hash says {claimedHash}: the body was changed after it was hashed, " +
                    "or the hash was taken over different bytes (hash exactly the bytes sent, before any re-encoding).", signedAt, thumbprint);
            }

            if (!TryDecodeBase64(headers.Signature!.Trim(), out var signature) || signature.Length == 0)
            {
                return Malformed(DipSignatureHeaders.SignatureName, "is not base64");
            }

            using var publicKey = certificate.GetRSAPublicKey();
            if (publicKey is null)
            {
                return SignatureVerification.Refused(SignatureFailure.UnsupportedKey,
                    $"The signing certificate (SHA-256 {thumbprint}) has a {certificate.PublicKey.Oid.FriendlyName} key; DIP signatures are RSA PKCS#1 v1.5 with SHA-256.",
                    signedAt, thumbprint);
            }

            var toSign = StringToSign.Build(method, fullUrl, headers.SignatureDate!, claimedHash);
            if (!publicKey.VerifyData(Encoding.UTF8.GetBytes(toSign), signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
            {
                return SignatureVerification.Refused(SignatureFailure.SignatureMismatch,
                    $"X-DIP-Signature does not verify with the registered certificate (SHA-256 {thumbprint}) over the string '{toSign}': " +
                    "the method, URL (lower-cased, with scheme, host, port and query), date or content hash differ from what was signed, or a different key signed.",
                    signedAt, thumbprint);
            }

            if (_replayGuard is not null)
            {
                switch (_replayGuard.TryRecord(signature, signedAt))
                {
                    case ReplayCheck.Replayed:
                        return SignatureVerification.Refused(SignatureFailure.Replayed,
                            $"This exact signature (dated {headers.SignatureDate}) was already accepted; a retry must be signed again with a new X-DIP-Signature-Date.",
                            signedAt, thumbprint);
                    case ReplayCheck.Saturated:
                        return SignatureVerification.Refused(SignatureFailure.ReplayGuardSaturated,
                            "The backbone cannot check this request for replay now because too many signed requests arrived within the window; retry shortly.",
                            signedAt, thumbprint);
                    case ReplayCheck.Fresh:
                    default:
                        break;
                }
            }

            return SignatureVerification.Valid(signedAt, thumbprint);
        }
    }

    /// <summary>The SHA-256 thumbprint of a certificate as upper-case hex, the form registries store.</summary>
    public static string Thumbprint(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return certificate.GetCertHashString(HashAlgorithmName.SHA256);
    }

    private SignatureVerification? CheckWindow(DateTimeOffset signedAt)
    {
        var now = _clock.GetUtcNow();
        var skew = _options.AllowedClockSkew;
        var offset = signedAt - now;
        if (offset < -skew)
        {
            return SignatureVerification.Refused(SignatureFailure.SignatureDateTooOld,
                $"X-DIP-Signature-Date {Iso(signedAt)} is {Seconds(-offset)} s before the backbone's clock ({Iso(now)}); the allowed skew is {Seconds(skew)} s. " +
                "Sign each request when it is sent and keep the clock synchronised.", signedAt);
        }

        if (offset > skew)
        {
            return SignatureVerification.Refused(SignatureFailure.SignatureDateInFuture,
                $"X-DIP-Signature-Date {Iso(signedAt)} is {Seconds(offset)} s after the backbone's clock ({Iso(now)}); the allowed skew is {Seconds(skew)} s. " +
                "Check the sending system's clock.", signedAt);
        }

        return null;
    }

    private static string? Missing(DipSignatureHeaders h) =>
        string.IsNullOrWhiteSpace(h.Signature) ? DipSignatureHeaders.SignatureName
        : string.IsNullOrWhiteSpace(h.SignatureDate) ? DipSignatureHeaders.SignatureDateName
        : string.IsNullOrWhiteSpace(h.ContentHash) ? DipSignatureHeaders.ContentHashName
        : string.IsNullOrWhiteSpace(h.SignatureCertificate) ? DipSignatureHeaders.SignatureCertificateName
        : null;

    private static SignatureVerification Malformed(string header, string why) =>
        SignatureVerification.Refused(SignatureFailure.MalformedHeader, $"The {header} header {why}.");

    private static bool TryDecodeBase64(string text, out byte[] bytes)
    {
        try
        {
            bytes = Convert.FromBase64String(text);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }

    // The DIP carries base64 of the PEM text. DER inside the base64 is accepted too: it is unambiguous and
    // some senders encode the certificate that way.
    private static bool TryDecodeCertificate(string header, out X509Certificate2 certificate, out string why)
    {
        certificate = null!;
        if (!TryDecodeBase64(header.Trim(), out var decoded) || decoded.Length == 0)
        {
            why = "is not base64 of a PEM certificate";
            return false;
        }

        try
        {
            var text = Encoding.ASCII.GetString(decoded);
            certificate = text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(text)
                : X509CertificateLoader.LoadCertificate(decoded);
            why = "";
            return true;
        }
        catch (CryptographicException e)
        {
            why = $"does not hold a readable X.509 certificate ({e.Message.TrimEnd('.')}); send base64 of the certificate's PEM text";
            return false;
        }
    }

    private static string Iso(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Iso(DateTime instant) => Iso(new DateTimeOffset(instant.ToUniversalTime()));

    private static string Seconds(TimeSpan span) => ((long)span.TotalSeconds).ToString(CultureInfo.InvariantCulture);
}
