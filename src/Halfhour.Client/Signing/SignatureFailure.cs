namespace Halfhour.Client.Signing;

/// <summary>Why a signed request was refused. Each value has a stable wire name (<see cref="SignatureFailures.Reason"/>).</summary>
public enum SignatureFailure
{
    /// <summary>The signature verified.</summary>
    None = 0,
    /// <summary>One of the four signing headers is absent.</summary>
    MissingHeader,
    /// <summary>A signing header is present but not in the form the DIP defines (bad base64, wrong length, not a certificate, not a date).</summary>
    MalformedHeader,
    /// <summary>The signature date is earlier than the allowed clock skew.</summary>
    SignatureDateTooOld,
    /// <summary>The signature date is later than the allowed clock skew.</summary>
    SignatureDateInFuture,
    /// <summary>The certificate in the header is not one registered to the claimed participant.</summary>
    CertificateNotRegistered,
    /// <summary>The certificate is registered but was not valid at the signing date.</summary>
    CertificateNotValidAtSigningDate,
    /// <summary>The certificate's key is not RSA, so it cannot make a PKCS#1 v1.5 signature.</summary>
    UnsupportedKey,
    /// <summary>The body's SHA-256 differs from <c>X-DIP-Content-Hash</c>: the body changed after it was hashed.</summary>
    ContentHashMismatch,
    /// <summary>The signature does not verify over the method, URL, date and hash received.</summary>
    SignatureMismatch,
    /// <summary>The same signature was already accepted within the replay window.</summary>
    Replayed,
    /// <summary>The replay guard is full; the request cannot be checked for replay now.</summary>
    ReplayGuardSaturated,
}

/// <summary>The wire names of <see cref="SignatureFailure"/> values.</summary>
public static class SignatureFailures
{
    /// <summary>A short stable kebab-case name for a failure, e.g. <c>signature-date-too-old</c>.</summary>
    public static string Reason(SignatureFailure failure) => failure switch
    {
        SignatureFailure.None => "none",
        SignatureFailure.MissingHeader => "missing-signature-header",
        SignatureFailure.MalformedHeader => "malformed-signature-header",
        SignatureFailure.SignatureDateTooOld => "signature-date-too-old",
        SignatureFailure.SignatureDateInFuture => "signature-date-in-future",
        SignatureFailure.CertificateNotRegistered => "certificate-not-registered",
        SignatureFailure.CertificateNotValidAtSigningDate => "certificate-not-valid-at-signing-date",
        SignatureFailure.UnsupportedKey => "unsupported-key",
        SignatureFailure.ContentHashMismatch => "content-hash-mismatch",
        SignatureFailure.SignatureMismatch => "signature-mismatch",
        SignatureFailure.Replayed => "signature-replayed",
        SignatureFailure.ReplayGuardSaturated => "replay-guard-saturated",
        _ => "unknown",
    };
}

/// <summary>
/// The outcome of verifying one signed request: valid, or the failure with a sentence that says what was wrong
/// and what the sender should do.
/// </summary>
public sealed record SignatureVerification
{
    private SignatureVerification(SignatureFailure failure, string detail, DateTimeOffset? signedAt, string? thumbprint)
    {
        Failure = failure;
        Detail = detail;
        SignedAt = signedAt;
        CertificateThumbprint = thumbprint;
    }

    /// <summary>Why the request was refused; <see cref="SignatureFailure.None"/> when it verified.</summary>
    public SignatureFailure Failure { get; }

    /// <summary>A sentence for the sender's developer.</summary>
    public string Detail { get; }

    /// <summary>The signing date, once it parsed.</summary>
    public DateTimeOffset? SignedAt { get; }

    /// <summary>The SHA-256 thumbprint (upper-case hex) of the signing certificate, once it decoded.</summary>
    public string? CertificateThumbprint { get; }

    /// <summary>True when the signature verified.</summary>
    public bool IsValid => Failure == SignatureFailure.None;

    /// <summary>The stable wire name of the failure.</summary>
    public string Reason => SignatureFailures.Reason(Failure);

    /// <summary>A verified signature.</summary>
    public static SignatureVerification Valid(DateTimeOffset signedAt, string thumbprint) =>
        new(SignatureFailure.None, "The signature verified.", signedAt, thumbprint);

    /// <summary>A refused signature.</summary>
    public static SignatureVerification Refused(SignatureFailure failure, string detail, DateTimeOffset? signedAt = null, string? thumbprint = null) =>
        failure == SignatureFailure.None
            ? throw new ArgumentException("A refusal needs a failure reason.", nameof(failure))
            : new(failure, detail, signedAt, thumbprint);

    /// <inheritdoc />
    public override string ToString() => IsValid ? Detail : $"{Reason}: {Detail}";
}
