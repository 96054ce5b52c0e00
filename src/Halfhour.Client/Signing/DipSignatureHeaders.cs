namespace Halfhour.Client.Signing;

/// <summary>
/// The four DIP message-signing headers as they travel on a request or a webhook push. Values are raw header
/// text; a missing header is null, so a verifier can say exactly which one is absent.
/// </summary>
/// <param name="Signature"><c>X-DIP-Signature</c>: base64 of the RSA PKCS#1 v1.5 SHA-256 signature of the string to sign.</param>
/// <param name="SignatureDate"><c>X-DIP-Signature-Date</c>: when the sender signed, ISO 8601 with an offset.</param>
/// <param name="ContentHash"><c>X-DIP-Content-Hash</c>: base64 of the SHA-256 of the body.</param>
/// <param name="SignatureCertificate"><c>X-DIP-Signature-Certificate</c>: base64 of the sender's PEM certificate.</param>
public sealed record DipSignatureHeaders(string? Signature, string? SignatureDate, string? ContentHash, string? SignatureCertificate)
{
    /// <summary>The header that carries the signature.</summary>
    public const string SignatureName = "X-DIP-Signature";

    /// <summary>The header that carries the signing time.</summary>
    public const string SignatureDateName = "X-DIP-Signature-Date";

    /// <summary>The header that carries the body's hash.</summary>
    public const string ContentHashName = "X-DIP-Content-Hash";

    /// <summary>The header that carries the signer's certificate.</summary>
    public const string SignatureCertificateName = "X-DIP-Signature-Certificate";

    /// <summary>Reads the four headers through a lookup that returns null for an absent header.</summary>
    public static DipSignatureHeaders Read(Func<string, string?> header)
    {
        ArgumentNullException.ThrowIfNull(header);
        return new(header(SignatureName), header(SignatureDateName), header(ContentHashName), header(SignatureCertificateName));
    }

    /// <summary>The headers as name/value pairs, in the order the DIP lists them, skipping absent ones.</summary>
    public IEnumerable<KeyValuePair<string, string>> AsPairs()
    {
        if (Signature is not null) yield return new(SignatureName, Signature);
        if (SignatureDate is not null) yield return new(SignatureDateName, SignatureDate);
        if (ContentHash is not null) yield return new(ContentHashName, ContentHash);
        if (SignatureCertificate is not null) yield return new(SignatureCertificateName, SignatureCertificate);
    }
}
