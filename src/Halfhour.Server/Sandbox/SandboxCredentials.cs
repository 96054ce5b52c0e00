using System.Security.Cryptography.X509Certificates;
using Halfhour.Market.Participants;
using Halfhour.Server.Credentials;

namespace Halfhour.Server.Sandbox;

/// <summary>One demo participant of the sandbox and where its credentials are on disk.</summary>
/// <param name="Participant">Who it is (environment DEV).</param>
/// <param name="ApiKey">Its API key (the sandbox hands it out in clear; the registry keeps only the hash).</param>
/// <param name="Directory">Its folder under <c>DATA/sandbox/</c>.</param>
/// <param name="CertificatePath">Its client certificate, PEM.</param>
/// <param name="PrivateKeyPath">Its private key, PEM, mode 0600.</param>
/// <param name="ApiKeyPath">Its API key, text, mode 0600.</param>
public sealed record SandboxParticipant(Participant Participant, string ApiKey, string Directory, string CertificatePath, string PrivateKeyPath, string ApiKeyPath);

/// <summary>
/// The local trust and demo credentials a fresh backbone creates for itself: a certificate authority, the
/// server's certificate, an operator API key and one DEV participant per role, so that a newcomer can connect
/// with mutual TLS and signed messages at once.
/// </summary>
public sealed class SandboxCredentials(string directory, CertificateAuthority authority, X509Certificate2 serverCertificate, X509Certificate2 backboneCertificate,
    string operatorApiKey, IReadOnlyList<SandboxParticipant> participants) : IDisposable
{
    /// <summary>The sandbox folder's name under the data directory.</summary>
    public const string FolderName = "sandbox";

    /// <summary>The sandbox folder, <c>DATA/sandbox</c>.</summary>
    public string Directory { get; } = directory;

    /// <summary>The certificate authority that issued the server's and the participants' certificates.</summary>
    public CertificateAuthority Authority { get; } = authority;

    /// <summary>The server's TLS certificate, with its key.</summary>
    public X509Certificate2 ServerCertificate { get; } = serverCertificate;

    /// <summary>The backbone's own certificate, with its key: signs webhook pushes (receivers verify against <see cref="BackboneCertificatePath"/>).</summary>
    public X509Certificate2 BackboneCertificate { get; } = backboneCertificate;

    /// <summary>The backbone's certificate, PEM: what a webhook receiver checks the backbone's signatures against.</summary>
    public string BackboneCertificatePath => Path.Combine(Directory, SandboxLayout.BackboneCertificate);

    /// <summary>The operator API key from <c>operator-api-key.txt</c>.</summary>
    public string OperatorApiKey { get; } = operatorApiKey;

    /// <summary>One demo participant per role.</summary>
    public IReadOnlyList<SandboxParticipant> Participants { get; } = participants;

    /// <summary>The authority's certificate, PEM: what a participant trusts to reach this server.</summary>
    public string AuthorityCertificatePath => Path.Combine(Directory, SandboxLayout.AuthorityCertificate);

    /// <summary>The list of demo participants, JSON.</summary>
    public string ParticipantsFilePath => Path.Combine(Directory, SandboxLayout.ParticipantsFile);

    /// <summary>The demo participant holding a role.</summary>
    public SandboxParticipant For(Role role) => Participants.First(p => p.Participant.Role == role);

    /// <inheritdoc />
    public void Dispose()
    {
        Authority.Dispose();
        ServerCertificate.Dispose();
        BackboneCertificate.Dispose();
    }
}

/// <summary>File names inside <c>DATA/sandbox/</c>.</summary>
internal static class SandboxLayout
{
    public const string AuthorityCertificate = "ca.pem";
    public const string AuthorityKey = "ca-key.pem";
    public const string ServerCertificate = "server.pem";
    public const string ServerKey = "server-key.pem";
    public const string BackboneCertificate = "backbone.pem";
    public const string BackboneKey = "backbone-key.pem";
    public const string OperatorApiKey = "operator-api-key.txt";
    public const string ParticipantsFile = "participants.json";
    public const string ParticipantCertificate = "cert.pem";
    public const string ParticipantKey = "key.pem";
    public const string ParticipantApiKey = "api-key.txt";
}
