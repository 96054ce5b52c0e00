namespace Halfhour.Client.Signing;

/// <summary>
/// An <see cref="HttpClient"/> handler that signs every outgoing request with the DIP signing headers,
/// so a participant's code sends plain requests and the signature is never forgotten.
/// </summary>
public sealed class DipSigningHandler : DelegatingHandler
{
    private readonly DipRequestSigner _signer;

    /// <summary>Creates the handler; set <see cref="DelegatingHandler.InnerHandler"/> or use it with an HttpClient factory.</summary>
    public DipSigningHandler(DipRequestSigner signer) => _signer = signer ?? throw new ArgumentNullException(nameof(signer));

    /// <summary>Creates the handler in front of a given inner handler.</summary>
    public DipSigningHandler(DipRequestSigner signer, HttpMessageHandler innerHandler) : base(innerHandler) =>
        _signer = signer ?? throw new ArgumentNullException(nameof(signer));

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        await _signer.SignAsync(request, cancellationToken).ConfigureAwait(false);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
