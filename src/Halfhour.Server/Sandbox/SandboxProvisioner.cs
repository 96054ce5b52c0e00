using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;
using Halfhour.Client.Signing;
using Halfhour.Client.Transport;
using Halfhour.Market.Participants;
using Halfhour.Server.Credentials;
using Halfhour.Server.Participants;
using Halfhour.Server.Storage;

namespace Halfhour.Server.Sandbox;

/// <summary>
/// Creates the sandbox on a backbone's first start and reuses it on every later one. Each artefact is loaded
/// when its files exist and created otherwise, each file written atomically (secrets 0600), so an interrupted
/// first start is completed by the next one and nothing that exists is ever replaced — except the server
/// certificate when it nears expiry, and <c>participants.json</c>, which is rewritten each start so its paths
/// follow the data directory.
/// </summary>
public static class SandboxProvisioner
{
    /// <summary>The environment of the demo participants: DEV, the one a newcomer starts in.</summary>
    public const MarketEnvironment Environment = MarketEnvironment.DEV;

    /// <summary>Sandbox DIP IDs are 99000000nn (nn the role's number): the 99 prefix keeps them apart from real ones.</summary>
    public const string DipIdPrefix = "99000000";

    // Thirty days: a server certificate is renewed at a start well before clients would see it expire.
    private static readonly TimeSpan s_serverRenewalMargin = TimeSpan.FromDays(30);

    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Ensures <c>DATA/sandbox</c> holds every credential and that the registry knows every demo participant.</summary>
    public static SandboxCredentials EnsureCreated(string dataDirectory, ParticipantRegistry registry, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        clock ??= TimeProvider.System;
        var directory = Path.GetFullPath(Path.Combine(dataDirectory, SandboxCredentials.FolderName));
        System.IO.Directory.CreateDirectory(directory);

        var authority = CertificateAuthority.LoadOrCreate(
            Path.Combine(directory, SandboxLayout.AuthorityCertificate), Path.Combine(directory, SandboxLayout.AuthorityKey),
            "Halfhour Sandbox CA", clock);
        var server = EnsureServerCertificate(directory, authority, clock);
        var backbone = EnsureBackboneCertificate(directory, authority);
        var operatorKey = EnsureSecret(Path.Combine(directory, SandboxLayout.OperatorApiKey));
        // Key generation dominates a first start (RSA 2048 takes up to a second on a small machine), so the
        // participants are provisioned in parallel; the registry serialises its own changes.
        var roles = Enum.GetValues<Role>();
        var participants = new SandboxParticipant[roles.Length];
        Parallel.For(0, roles.Length, i => participants[i] = EnsureParticipant(directory, roles[i], authority, registry));

        AtomicFile.Write(Path.Combine(directory, SandboxLayout.ParticipantsFile),
            JsonSerializer.SerializeToUtf8Bytes(participants.Select(Describe), s_json), secret: true);
        return new SandboxCredentials(directory, authority, server, backbone, operatorKey, participants);
    }

    /// <summary>The demo participant of a role: DIP ID 99000000nn, an MPID of the role's first three letters and a letter by its number.</summary>
    public static Participant DemoParticipant(Role role)
    {
        var number = (int)role;
        var code = role.ToString();
        var mpid = string.Concat(code.AsSpan(0, Math.Min(3, code.Length)), ((char)('A' + ((number - 1) % 26))).ToString()).PadRight(4, 'X');
        return new Participant
        {
            DipId = DipIdPrefix + number.ToString("D2", System.Globalization.CultureInfo.InvariantCulture),
            Role = role,
            Mpid = mpid,
            Name = $"Sandbox {code}",
            Environment = Environment,
        };
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 EnsureServerCertificate(
        string directory, CertificateAuthority authority, TimeProvider clock)
    {
        var certificatePath = Path.Combine(directory, SandboxLayout.ServerCertificate);
        var keyPath = Path.Combine(directory, SandboxLayout.ServerKey);
        if (File.Exists(certificatePath) && File.Exists(keyPath))
        {
            var existing = PemCredentials.Load(certificatePath, keyPath);
            if (existing.NotAfter.ToUniversalTime() - clock.GetUtcNow().UtcDateTime > s_serverRenewalMargin) return existing;
            existing.Dispose();
        }

        var issued = authority.IssueServerCertificate(["localhost"], [IPAddress.Loopback, IPAddress.IPv6Loopback]);
        AtomicFile.WriteText(keyPath, issued.PrivateKeyPem, secret: true);
        AtomicFile.WriteText(certificatePath, issued.CertificatePem);
        return issued.Certificate;
    }

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 EnsureBackboneCertificate(string directory, CertificateAuthority authority)
    {
        var certificatePath = Path.Combine(directory, SandboxLayout.BackboneCertificate);
        var keyPath = Path.Combine(directory, SandboxLayout.BackboneKey);
        if (File.Exists(certificatePath) && File.Exists(keyPath)) return PemCredentials.Load(certificatePath, keyPath);

        var issued = authority.IssueBackboneCertificate("Halfhour Backbone");
        AtomicFile.WriteText(keyPath, issued.PrivateKeyPem, secret: true);
        AtomicFile.WriteText(certificatePath, issued.CertificatePem);
        return issued.Certificate;
    }

    private static SandboxParticipant EnsureParticipant(string directory, Role role, CertificateAuthority authority, ParticipantRegistry registry)
    {
        var participant = DemoParticipant(role);
        var folder = Path.Combine(directory, $"{role}-{participant.DipId}");
        var certificatePath = Path.Combine(folder, SandboxLayout.ParticipantCertificate);
        var keyPath = Path.Combine(folder, SandboxLayout.ParticipantKey);
        var apiKeyPath = Path.Combine(folder, SandboxLayout.ParticipantApiKey);

        if (!File.Exists(certificatePath) || !File.Exists(keyPath))
        {
            var issued = authority.IssueClientCertificate(participant.DipId, participant.Name);
            AtomicFile.WriteText(keyPath, issued.PrivateKeyPem, secret: true);
            AtomicFile.WriteText(certificatePath, issued.CertificatePem);
            issued.Certificate.Dispose();
        }

        var apiKey = EnsureSecret(apiKeyPath);
        using var certificate = PemCredentials.Load(certificatePath, keyPath);
        var key = new ParticipantKey(participant.Environment, participant.DipId);
        var hash = ApiKeys.Hash(apiKey);
        if (registry.Find(key) is not { } registered)
        {
            registry.Add(participant, [certificate], [hash]);
        }
        else
        {
            var thumbprint = DipSignatureVerifier.Thumbprint(certificate);
            if (!registered.Certificates.Any(c => c.Thumbprint == thumbprint)) registry.AddCertificate(key, certificate);
            if (!registered.ApiKeys.Any(k => k.Sha256 == hash)) registry.AddApiKey(key, hash, replaceOthers: false);
        }

        return new SandboxParticipant(participant, apiKey, folder, certificatePath, keyPath, apiKeyPath);
    }

    private static string EnsureSecret(string path)
    {
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length > 0) return existing;
        }

        var key = ApiKeys.Generate();
        AtomicFile.WriteText(path, key + "\n", secret: true);
        return key;
    }

    private static SandboxParticipantEntry Describe(SandboxParticipant p) => new(
        p.Participant.DipId, p.Participant.Role, p.Participant.Mpid, p.Participant.Name, p.Participant.Environment,
        p.ApiKey, p.ApiKeyPath, p.CertificatePath, p.PrivateKeyPath);

    // The shape of one entry of participants.json.
    private sealed record SandboxParticipantEntry(
        string DipId, Role Role, string Mpid, string Name, MarketEnvironment Environment,
        string ApiKey, string ApiKeyFile, string Certificate, string PrivateKey);
}
