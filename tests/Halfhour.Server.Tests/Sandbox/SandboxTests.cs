using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Halfhour.Client.Signing;
using Halfhour.Client.Transport;
using Halfhour.Market.Participants;
using Halfhour.Server.Participants;

namespace Halfhour.Server.Tests.Sandbox;

[Collection(ServerCollection.Name)]
public class SandboxTests(ServerFixture server)
{
    private string SandboxDirectory => Path.Combine(server.DataDirectory, "sandbox");

    [Fact]
    public void The_first_start_creates_the_authority_and_one_dev_participant_per_role_with_its_files()
    {
        Assert.True(File.Exists(Path.Combine(SandboxDirectory, "ca.pem")));
        Assert.Equal(Enum.GetValues<Role>().Length, server.Sandbox.Participants.Count);
        foreach (var role in Enum.GetValues<Role>())
        {
            var p = server.Participant(role);
            Assert.Equal(MarketEnvironment.DEV, p.Participant.Environment);
            Assert.Matches("^[0-9]{10}$", p.Participant.DipId);
            Assert.Matches("^[A-Z]{4}$", p.Participant.Mpid);
            Assert.Equal(SandboxDirectory, Path.GetDirectoryName(p.Directory));
            Assert.Equal(p.ApiKey, File.ReadAllText(Path.Combine(p.Directory, "api-key.txt")).Trim());
            Assert.True(File.Exists(Path.Combine(p.Directory, "cert.pem")));
            Assert.True(File.Exists(Path.Combine(p.Directory, "key.pem")));
        }

        Assert.Equal(server.Sandbox.Participants.Count, server.Sandbox.Participants.Select(p => p.Participant.Mpid).Distinct().Count());
        Assert.Equal(server.Sandbox.Participants.Count, server.Sandbox.Participants.Select(p => p.Participant.DipId).Distinct().Count());
    }

    [Fact]
    public void Participants_json_lists_each_participant_with_its_api_key_and_credential_paths()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(SandboxDirectory, "participants.json")));
        var entries = json.RootElement.EnumerateArray().ToList();

        Assert.Equal(Enum.GetValues<Role>().Length, entries.Count);
        foreach (var entry in entries)
        {
            var role = Enum.Parse<Role>(entry.GetProperty("role").GetString()!);
            var p = server.Participant(role);
            Assert.Equal(p.Participant.DipId, entry.GetProperty("dipId").GetString());
            Assert.Equal(p.Participant.Mpid, entry.GetProperty("mpid").GetString());
            Assert.Equal(p.ApiKey, entry.GetProperty("apiKey").GetString());
            Assert.True(File.Exists(entry.GetProperty("certificate").GetString()));
            Assert.True(File.Exists(entry.GetProperty("privateKey").GetString()));
        }
    }

    [Fact]
    public void Private_keys_and_api_keys_are_readable_by_their_owner_only()
    {
        if (OperatingSystem.IsWindows()) return; // file modes are a Unix notion
        var secrets = server.Sandbox.Participants.SelectMany(p => new[] { p.PrivateKeyPath, p.ApiKeyPath })
            .Concat(new[] { "ca-key.pem", "server-key.pem", "operator-api-key.txt", "participants.json" }.Select(f => Path.Combine(SandboxDirectory, f)));

        foreach (var secret in secrets)
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret));
        }
    }

    [Fact]
    public void A_second_start_reuses_the_sandbox_it_finds()
    {
        var first = server.Main.Sandbox;
        var second = server.Bare.Sandbox;

        Assert.Equal(first.Authority.Certificate.Thumbprint, second.Authority.Certificate.Thumbprint);
        Assert.Equal(first.ServerCertificate.Thumbprint, second.ServerCertificate.Thumbprint);
        Assert.Equal(first.OperatorApiKey, second.OperatorApiKey);
        Assert.Equal(first.Participants.Select(p => p.ApiKey), second.Participants.Select(p => p.ApiKey));
        var registry = ParticipantRegistry.Open(Path.Combine(server.DataDirectory, "registry", "participants.json"));
        Assert.All(Enum.GetValues<Role>(), role =>
            Assert.Single(registry.Find(new ParticipantKey(MarketEnvironment.DEV, server.Participant(role).Participant.DipId))!.Certificates));
    }

    [Fact]
    public void Each_demo_certificate_is_rsa_2048_named_by_its_dip_id_and_issued_by_the_sandbox_authority()
    {
        var trust = PrivateCaTrust.FromPemFile(server.Sandbox.AuthorityCertificatePath);
        foreach (var p in server.Sandbox.Participants)
        {
            using var certificate = PemCredentials.Load(p.CertificatePath, p.PrivateKeyPath);
            Assert.Equal(p.Participant.DipId, certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false));
            Assert.Equal(2048, certificate.GetRSAPublicKey()!.KeySize);
            Assert.Null(trust.Check(certificate, ExtendedKeyUsage.ClientAuthentication));
            Assert.NotNull(DipSignatureVerifier.Thumbprint(certificate));
        }
    }

    [Fact]
    public void The_server_certificate_names_localhost_and_the_loopback_address()
    {
        var names = server.Sandbox.ServerCertificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();

        Assert.Contains("localhost", names.EnumerateDnsNames());
        Assert.Contains(System.Net.IPAddress.Loopback, names.EnumerateIPAddresses());
        Assert.Null(server.Trust.Check(server.Sandbox.ServerCertificate, ExtendedKeyUsage.ServerAuthentication));
    }
}
