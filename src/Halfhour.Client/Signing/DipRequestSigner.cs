using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Halfhour.Client.Signing;

/// <summary>
/// Signs requests the DIP way with a participant's RSA certificate and private key: computes the content hash,
/// the date and the signature, and carries the certificate itself so the receiver can check it is registered.
/// Thread-safe; one instance per certificate.
/// </summary>
public sealed class DipRequestSigner
{
    private readonly RSA _privateKey;
    private readonly TimeProvider _clock;
    private readonly string _certificateHeader;

    /// <summary>Creates a signer for a certificate that has its RSA private key attached.</summary>
    public DipRequestSigner(X509Certificate2 certificate, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        _privateKey = certificate.GetRSAPrivateKey()
            ?? throw new ArgumentException(
                $"The certificate {certificate.Subject} has no RSA private key attached; DIP signatures are RSA PKCS#1 v1.5 with SHA-256, " +
                "so load the certificate together with its RSA key (e.g. X509Certificate2.CreateFromPemFile(cert, key)).",
                nameof(certificate));
        _clock = clock ?? TimeProvider.System;
        _certificateHeader = Convert.ToBase64String(Encoding.ASCII.GetBytes(certificate.ExportCertificatePem()));
        Certificate = certificate;
    }

    /// <summary>The certificate whose key signs.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Computes the four signing headers for a request with this method, full URL and body, signed now.</summary>
    public DipSignatureHeaders Sign(string method, Uri url, ReadOnlySpan<byte> body) =>
        Sign(method, url, body, _clock.GetUtcNow());

    /// <summary>Computes the four signing headers as of a given signing time.</summary>
    public DipSignatureHeaders Sign(string method, Uri url, ReadOnlySpan<byte> body, DateTimeOffset signedAt) =>
        SignHashed(method, url, StringToSign.ContentHash(body), signedAt);

    /// <summary>
    /// Signs a request in place: hashes its body (if any) and sets the four headers, replacing earlier ones. A body held in
    /// memory (<see cref="ReadOnlyMemoryContent"/>, <see cref="ByteArrayContent"/> and its kin such as <see cref="StringContent"/>)
    /// is hashed where it lies, neither buffered nor copied: a DIP array of 100 messages is a third of a megabyte, and two
    /// copies of it per request cost a sender more than the hash. Any other content is buffered first, so that the bytes
    /// hashed are the bytes sent.
    /// </summary>
    public async Task SignAsync(HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var url = request.RequestUri
            ?? throw new ArgumentException("The request has no RequestUri; the DIP signature covers the full URL, so set an absolute one.", nameof(request));
        if (!url.IsAbsoluteUri)
        {
            throw new ArgumentException($"The request URI '{url}' is relative; the DIP signature covers the full URL, so resolve it against the base address first.", nameof(request));
        }

        var contentHash = request.Content is null
            ? StringToSign.ContentHash([])
            : await ContentHashAsync(request.Content, cancellationToken).ConfigureAwait(false);
        var headers = SignHashed(request.Method.Method, url, contentHash, _clock.GetUtcNow());
        foreach (var (name, value) in headers.AsPairs())
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }
    }

    private DipSignatureHeaders SignHashed(string method, Uri url, string contentHash, DateTimeOffset signedAt)
    {
        ArgumentNullException.ThrowIfNull(url);
        var date = StringToSign.FormatDate(signedAt);
        var toSign = StringToSign.Bytes(method, url.AbsoluteUri, date, contentHash);
        var signature = _privateKey.SignData(toSign, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return new DipSignatureHeaders(Convert.ToBase64String(signature), date, contentHash, _certificateHeader);
    }

    /// <summary>base64(SHA-256) of a request's body, written straight into the hash.</summary>
    private static async Task<string> ContentHashAsync(HttpContent content, CancellationToken cancellationToken)
    {
        // Content of fixed bytes in memory writes the same bytes every time it is serialized; anything else (a stream, a
        // serializer) may not be re-readable or repeatable, and LoadIntoBufferAsync makes what is sent the bytes hashed.
        if (content is not (ReadOnlyMemoryContent or ByteArrayContent))
        {
            await content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
        }

        using var hash = new HashingStream();
        await content.CopyToAsync(hash, cancellationToken).ConfigureAwait(false);
        return hash.ContentHash();
    }
}
