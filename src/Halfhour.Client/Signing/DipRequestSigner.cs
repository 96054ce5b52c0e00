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
    public DipSignatureHeaders Sign(string method, Uri url, ReadOnlySpan<byte> body, DateTimeOffset signedAt)
    {
        ArgumentNullException.ThrowIfNull(url);
        var date = StringToSign.FormatDate(signedAt);
        var contentHash = StringToSign.ContentHash(body);
        var toSign = StringToSign.Bytes(method, url.AbsoluteUri, date, contentHash);
        var signature = _privateKey.SignData(toSign, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return new DipSignatureHeaders(Convert.ToBase64String(signature), date, contentHash, _certificateHeader);
    }

    /// <summary>Signs a request in place: reads its body (if any) and sets the four headers, replacing earlier ones.</summary>
    public async Task SignAsync(HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var url = request.RequestUri
            ?? throw new ArgumentException("The request has no RequestUri; the DIP signature covers the full URL, so set an absolute one.", nameof(request));
        if (!url.IsAbsoluteUri)
        {
            throw new ArgumentException($"The request URI '{url}' is relative; the DIP signature covers the full URL, so resolve it against the base address first.", nameof(request));
        }

        // LoadIntoBufferAsync keeps the content re-readable, so the bytes hashed are the bytes sent.
        byte[] body = [];
        if (request.Content is not null)
        {
            await request.Content.LoadIntoBufferAsync(cancellationToken).ConfigureAwait(false);
            body = await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        }

        var headers = Sign(request.Method.Method, url, body);
        foreach (var (name, value) in headers.AsPairs())
        {
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }
    }
}
