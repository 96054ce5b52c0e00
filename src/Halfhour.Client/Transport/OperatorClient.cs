using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Security.Cryptography.X509Certificates;

namespace Halfhour.Client.Transport;

/// <summary>Credentials the operator API issued to a participant; shown once, in the answer to the call that created them.</summary>
/// <param name="ApiKey">The new API key, in clear.</param>
/// <param name="CertificatePem">The participant's certificate, PEM.</param>
/// <param name="PrivateKeyPem">The certificate's private key, PEM, when the backbone generated it.</param>
/// <param name="Participant">The participant as registered after the call.</param>
public sealed record IssuedCredentials(string ApiKey, string CertificatePem, string? PrivateKeyPem, ParticipantSummary? Participant = null)
{
    /// <summary>The certificate with its private key, ready for mutual TLS and signing.</summary>
    public X509Certificate2 LoadCertificate() =>
        PemCredentials.FromPem(CertificatePem, PrivateKeyPem ?? throw new InvalidOperationException("The backbone issued no private key: the certificate was the participant's own."));
}

/// <summary>A participant as the operator API shows it: no secrets.</summary>
/// <param name="DipId">Its DIP ID.</param>
/// <param name="Role">Its role code.</param>
/// <param name="Mpid">Its MPID.</param>
/// <param name="Name">Its name.</param>
/// <param name="Environment">Its environment.</param>
/// <param name="Certificates">Its registered certificates.</param>
/// <param name="ApiKeys">How many API keys it holds.</param>
public sealed record ParticipantSummary(string DipId, string Role, string Mpid, string Name, string Environment, IReadOnlyList<CertificateSummary> Certificates, int ApiKeys);

/// <summary>A registered certificate as the operator API shows it.</summary>
/// <param name="Thumbprint">Its SHA-256 thumbprint.</param>
/// <param name="Subject">Its subject.</param>
/// <param name="NotAfter">When it expires.</param>
public sealed record CertificateSummary(string Thumbprint, string Subject, DateTimeOffset NotAfter);

/// <summary>
/// The operator API of a Halfhour backbone (<c>/operator/participants…</c>, key in <c>X-Operator-Key</c>): what test
/// rigs, benchmarks and simulators use to enrol their participants with certificates from the backbone's authority.
/// </summary>
public sealed class OperatorClient : IDisposable
{
    /// <summary>The header that carries the operator key.</summary>
    public const string KeyHeader = "X-Operator-Key";

    private readonly HttpClient _http;

    /// <summary>A client of the backbone at <paramref name="baseAddress"/>, whose certificate chains to <paramref name="serverTrust"/>; the key may be left out for <see cref="IsReadyAsync"/>.</summary>
    public OperatorClient(Uri baseAddress, PrivateCaTrust serverTrust, string? operatorKey = null)
    {
        ArgumentNullException.ThrowIfNull(serverTrust);
        var tls = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
                certificate is not null && serverTrust.Check(certificate, ExtendedKeyUsage.ServerAuthentication) is null,
        };
        // Short: a probe of a backbone that is starting or has died must come back soon.
        _http = new HttpClient(tls) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (operatorKey is not null) _http.DefaultRequestHeaders.Add(KeyHeader, operatorKey);
    }

    /// <summary>True when <c>/readyz</c> answers 200; false while the backbone is not listening or not ready.</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            using var ready = await _http.GetAsync("readyz", cancellationToken).ConfigureAwait(false);
            return ready.StatusCode == HttpStatusCode.OK;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// Registers a participant with a certificate issued by the backbone; when it is already registered, rotates its
    /// credentials instead (a new key and certificate beside the old), so a rig can enrol again against a kept backbone.
    /// </summary>
    public async Task<IssuedCredentials> EnrolAsync(string dipId, string role, string mpid, string name, string environment, CancellationToken cancellationToken = default)
    {
        using var registered = await _http.PostAsJsonAsync("operator/participants", new { dipId, role, mpid, name, environment }, cancellationToken).ConfigureAwait(false);
        if (registered.StatusCode != HttpStatusCode.Conflict)
        {
            return await IssuedAsync(registered, dipId, cancellationToken).ConfigureAwait(false);
        }

        using var rotated = await _http.PostAsJsonAsync($"operator/participants/{environment}/{dipId}/credentials", new { retirePrevious = false }, cancellationToken)
            .ConfigureAwait(false);
        return await IssuedAsync(rotated, dipId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The registered participants, of one environment or all.</summary>
    public async Task<IReadOnlyList<ParticipantSummary>> ListAsync(string? environment = null, CancellationToken cancellationToken = default)
    {
        using var answer = await _http.GetAsync(environment is null ? "operator/participants" : $"operator/participants?environment={Uri.EscapeDataString(environment)}", cancellationToken)
            .ConfigureAwait(false);
        await ThrowIfRefusedAsync(answer, "Listing participants", cancellationToken).ConfigureAwait(false);
        return await answer.Content.ReadFromJsonAsync<List<ParticipantSummary>>(cancellationToken).ConfigureAwait(false) ?? [];
    }

    /// <summary>Registers a participant; without <paramref name="certificatePem"/> the backbone's authority issues it a certificate and key.</summary>
    public async Task<IssuedCredentials> RegisterAsync(string dipId, string role, string mpid, string name, string environment, string? certificatePem = null,
        CancellationToken cancellationToken = default)
    {
        using var answer = await _http.PostAsJsonAsync("operator/participants", new { dipId, role, mpid, name, environment, certificatePem }, cancellationToken).ConfigureAwait(false);
        return await IssuedAsync(answer, dipId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Rotates a participant's credentials: a new API key and certificate, the old ones kept unless <paramref name="retirePrevious"/>.</summary>
    public async Task<IssuedCredentials> RotateAsync(string environment, string dipId, bool retirePrevious, string? certificatePem = null, CancellationToken cancellationToken = default)
    {
        using var answer = await _http.PostAsJsonAsync($"operator/participants/{Uri.EscapeDataString(environment)}/{Uri.EscapeDataString(dipId)}/credentials",
            new { certificatePem, retirePrevious }, cancellationToken).ConfigureAwait(false);
        return await IssuedAsync(answer, dipId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>What the backbone's process has used since it started (CPU, allocations, collections, thread pool).</summary>
    public async Task<RuntimeFigures> RuntimeAsync(CancellationToken cancellationToken = default)
    {
        using var answer = await _http.GetAsync("operator/runtime", cancellationToken).ConfigureAwait(false);
        await ThrowIfRefusedAsync(answer, "Reading the runtime figures", cancellationToken).ConfigureAwait(false);
        return await answer.Content.ReadFromJsonAsync<RuntimeFigures>(cancellationToken).ConfigureAwait(false)
            ?? throw new HttpRequestException("The operator API answered the runtime figures with nothing.");
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private static async Task ThrowIfRefusedAsync(HttpResponseMessage answer, string what, CancellationToken cancellationToken)
    {
        if (answer.IsSuccessStatusCode) return;
        var problem = await answer.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        string? title = null, detail = null;
        try
        {
            using var json = JsonDocument.Parse(problem);
            title = json.RootElement.TryGetProperty("title", out var t) ? t.GetString() : null;
            detail = json.RootElement.TryGetProperty("detail", out var d) ? d.GetString() : null;
        }
        catch (JsonException)
        {
        }

        throw new HttpRequestException($"{what} was refused with {(int)answer.StatusCode}{(title is null ? "" : $" ({title})")}: {detail ?? problem}", null, answer.StatusCode);
    }

    private static async Task<IssuedCredentials> IssuedAsync(HttpResponseMessage answer, string dipId, CancellationToken cancellationToken)
    {
        await ThrowIfRefusedAsync(answer, $"Issuing credentials to {dipId}", cancellationToken).ConfigureAwait(false);
        return await answer.Content.ReadFromJsonAsync<IssuedCredentials>(cancellationToken).ConfigureAwait(false)
            ?? throw new HttpRequestException($"Enrolling {dipId}: the operator API answered without credentials.");
    }
}
