using Halfhour.Client.Signing;

namespace Halfhour.Client.Transport;

/// <summary>How a participant's system reaches a DIP-compatible backbone.</summary>
public sealed record DipConnection
{
    /// <summary>The backbone's base address, e.g. <c>https://127.0.0.1:8443/</c>.</summary>
    public required Uri BaseAddress { get; init; }

    /// <summary>The participant's certificate with its private key: presented for mutual TLS and, with <see cref="SignRequests"/>, used to sign.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; init; }

    /// <summary>The participant's API key, sent as <c>X-API-Key</c> on every request.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The authority that issued the backbone's certificate (a sandbox CA); null trusts the machine's roots.</summary>
    public PrivateCaTrust? ServerTrust { get; init; }

    /// <summary>Sign every request with the DIP signature headers (needs <see cref="Certificate"/>).</summary>
    public bool SignRequests { get; init; } = true;
}

/// <summary>Builds the <see cref="HttpClient"/> a participant's system uses: mutual TLS, API key, DIP signatures.</summary>
public static class DipHttpClient
{
    /// <summary>The header that carries the API key.</summary>
    public const string ApiKeyHeader = "X-API-Key";

    /// <summary>Creates a client for a connection; dispose it when done.</summary>
    public static HttpClient Create(DipConnection connection) => Create(connection, null);

    /// <summary>Creates a client whose transport (below signing) is wrapped, e.g. by a fault injector in tests.</summary>
    internal static HttpClient Create(DipConnection connection, Func<HttpMessageHandler, HttpMessageHandler>? wrapTransport)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var tls = new HttpClientHandler { ClientCertificateOptions = ClientCertificateOption.Manual };
        if (connection.Certificate is not null) tls.ClientCertificates.Add(connection.Certificate);
        if (connection.ServerTrust is { } trust)
        {
            tls.ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
                certificate is not null && trust.Check(certificate, ExtendedKeyUsage.ServerAuthentication) is null;
        }

        var transport = wrapTransport?.Invoke(tls) ?? tls;
        HttpMessageHandler handler = connection.SignRequests && connection.Certificate is not null
            ? new DipSigningHandler(new DipRequestSigner(connection.Certificate), transport)
            : transport;
        var client = new HttpClient(handler) { BaseAddress = connection.BaseAddress };
        if (connection.ApiKey is not null) client.DefaultRequestHeaders.Add(ApiKeyHeader, connection.ApiKey);
        return client;
    }
}
