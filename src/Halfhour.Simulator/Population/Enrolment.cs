using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Halfhour.Client.Transport;
using Halfhour.Market.Participants;
using Halfhour.Server.Credentials;

namespace Halfhour.Simulator.Population;

/// <summary>A participant of the simulated market with the credentials it was enrolled with.</summary>
/// <param name="Participant">Who it is.</param>
/// <param name="ApiKey">Its API key, in clear.</param>
/// <param name="Certificate">Its certificate with the private key: mutual TLS and signing.</param>
/// <param name="WasRegistered">True when the backbone had it already (a kept backbone): its credentials were rotated.</param>
public sealed record EnrolledParticipant(Participant Participant, string ApiKey, X509Certificate2 Certificate, bool WasRegistered = false);

/// <summary>
/// Enrols a population in a running backbone through its operator API (<c>/operator/participants</c>): each participant
/// its own certificate, issued by the backbone's authority from the data directory's sandbox, and its own API key.
/// Already registered participants (a kept backbone) get their credentials rotated instead. RSA keys are the slow part of
/// issuing (a good part of a second each on a small machine), so the certificates share a few keys; each certificate,
/// and so each participant's identity, is still its own. A certificate is signed by the authority and used as made, with
/// its key, not exported to PKCS#12 and loaded back (which cost four fifths of the time of issuing one): 400
/// participants are enrolled in seconds rather than a minute.
/// </summary>
public static class Enrolment
{
    // Enough keys that the population's TLS sessions do not all rest on one key, few enough to generate in about a second.
    private const int SharedKeys = 4;

    // Concurrent operator requests: enough to keep the server busy while each waits for its registry write.
    private const int Parallelism = 16;

    /// <summary>Enrols every participant of <paramref name="population"/>; <paramref name="enrolled"/> is told after each.</summary>
    public static async Task<IReadOnlyList<EnrolledParticipant>> EnrolAsync(Uri url, string dataDirectory, MarketPopulation population, Action? enrolled,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(population);
        var sandbox = Path.Combine(dataDirectory, "sandbox");
        using var authority = CertificateAuthority.LoadOrCreate(Path.Combine(sandbox, "ca.pem"), Path.Combine(sandbox, "ca-key.pem"), "unused", TimeProvider.System);
        var keys = Enumerable.Range(0, SharedKeys).Select(_ => RSA.Create(CertificateAuthority.LeafKeyBits)).ToArray();
        try
        {
            using var operatorApi = Operator(url, dataDirectory);
            var result = new EnrolledParticipant[population.Participants.Count];
            await Parallel.ForAsync(0, result.Length, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (i, token) =>
            {
                var p = population.Participants[i];
                var certificate = Issue(authority.Certificate, p, keys[i % keys.Length]);
                var (apiKey, existed) = await RegisterAsync(operatorApi, p, certificate.ExportCertificatePem(), token).ConfigureAwait(false);
                result[i] = new EnrolledParticipant(p, apiKey, certificate, existed);
                enrolled?.Invoke();
            }).ConfigureAwait(false);
            return result;
        }
        finally
        {
            foreach (var key in keys) key.Dispose();
        }
    }

    /// <summary>Every participant the backbone has registered in an environment (the sandbox's and earlier runs' included).</summary>
    public static async Task<IReadOnlyList<Participant>> ListAsync(Uri url, string dataDirectory, MarketEnvironment environment, CancellationToken cancellationToken)
    {
        using var operatorApi = Operator(url, dataDirectory);
        using var document = JsonDocument.Parse(await operatorApi.GetByteArrayAsync($"operator/participants?environment={environment}", cancellationToken).ConfigureAwait(false));
        return [.. document.RootElement.EnumerateArray().Select(p => new Participant
        {
            DipId = p.GetProperty("dipId").GetString()!,
            Role = Enum.Parse<Role>(p.GetProperty("role").GetString()!),
            Mpid = p.GetProperty("mpid").GetString()!,
            Name = p.GetProperty("name").GetString()!,
            Environment = environment,
        })];
    }

    /// <summary>The authority that signed the backbone's certificate, from its data directory.</summary>
    public static PrivateCaTrust Trust(string dataDirectory) => PrivateCaTrust.FromPemFile(Path.Combine(dataDirectory, "sandbox", "ca.pem"));

    private static HttpClient Operator(Uri url, string dataDirectory)
    {
        var trust = Trust(dataDirectory);
        var key = File.ReadAllText(Path.Combine(dataDirectory, "sandbox", "operator-api-key.txt")).Trim();
        var http = new HttpClient(new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) => certificate is not null && trust.Check(certificate, ExtendedKeyUsage.ServerAuthentication) is null,
        })
        { BaseAddress = url };
        http.DefaultRequestHeaders.Add(OperatorClient.KeyHeader, key);
        return http;
    }

    /// <summary>
    /// A participant's client certificate, signed by the authority for a key the caller holds, with the extensions the
    /// backbone's own authority gives one (<see cref="CertificateAuthority.IssueClientCertificate(string, string, RSA)"/>).
    /// </summary>
    private static X509Certificate2 Issue(X509Certificate2 authority, Participant p, RSA key)
    {
        var request = new CertificateRequest(new X500DistinguishedName($"CN={p.DipId}, O={p.Name.Replace(",", " ", StringComparison.Ordinal)}"), key,
            HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ExtendedKeyUsage.ClientAuthentication)], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive as an ASN.1 INTEGER
        var now = DateTimeOffset.UtcNow;
        // A simulated market lives for one run; a week is plenty, and within any authority's own lifetime.
        using var issued = request.Create(authority, now.AddMinutes(-5), Min(now.AddDays(7), authority.NotAfter.ToUniversalTime()), serial);
        return issued.CopyWithPrivateKey(key);
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static async Task<(string ApiKey, bool Existed)> RegisterAsync(HttpClient operatorApi, Participant p, string certificatePem, CancellationToken cancellationToken)
    {
        using var registered = await operatorApi.PostAsJsonAsync("operator/participants",
            new { dipId = p.DipId, role = p.Role.ToString(), mpid = p.Mpid, name = p.Name, environment = p.Environment.ToString(), certificatePem }, cancellationToken).ConfigureAwait(false);
        if (registered.StatusCode != HttpStatusCode.Conflict)
        {
            return (await ApiKeyAsync(registered, p, cancellationToken).ConfigureAwait(false), false);
        }

        using var rotated = await operatorApi.PostAsJsonAsync($"operator/participants/{p.Environment}/{p.DipId}/credentials", new { certificatePem, retirePrevious = false }, cancellationToken)
            .ConfigureAwait(false);
        return (await ApiKeyAsync(rotated, p, cancellationToken).ConfigureAwait(false), true);
    }

    private static async Task<string> ApiKeyAsync(HttpResponseMessage answer, Participant p, CancellationToken cancellationToken)
    {
        var body = await answer.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!answer.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"Enrolling {p.Role} {p.DipId} was refused with {(int)answer.StatusCode}: {body}", null, answer.StatusCode);
        }

        using var document = JsonDocument.Parse(body);
        return document.RootElement.GetProperty("apiKey").GetString()!;
    }
}
