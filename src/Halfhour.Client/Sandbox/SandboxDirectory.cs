using System.Text.Json;
using Halfhour.Client.Transport;

namespace Halfhour.Client.Sandbox;

/// <summary>One demo participant listed in a sandbox's <c>participants.json</c>, with where its credentials are.</summary>
/// <param name="DipId">Its DIP ID.</param>
/// <param name="Role">Its role code.</param>
/// <param name="Mpid">Its MPID.</param>
/// <param name="Name">Its name.</param>
/// <param name="Environment">Its environment.</param>
/// <param name="ApiKey">Its API key.</param>
/// <param name="Certificate">Its certificate, PEM file.</param>
/// <param name="PrivateKey">Its private key, PEM file.</param>
public sealed record SandboxParticipant(string DipId, string Role, string Mpid, string Name, string Environment, string ApiKey, string Certificate, string PrivateKey);

/// <summary>
/// The sandbox a Halfhour backbone creates under <c>DATA/sandbox/</c> on its first start: the authority that issued the
/// server's certificate (<c>ca.pem</c>), the backbone's signing certificate (<c>backbone.pem</c>), the operator key and one
/// DEV participant per role. What a developer points the SDK at to try things against a local backbone.
/// </summary>
public sealed class SandboxDirectory
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web);

    private SandboxDirectory(string path, IReadOnlyList<SandboxParticipant> participants)
    {
        Path = path;
        Participants = participants;
    }

    /// <summary>The sandbox folder.</summary>
    public string Path { get; }

    /// <summary>The demo participants.</summary>
    public IReadOnlyList<SandboxParticipant> Participants { get; }

    /// <summary>The authority certificate to trust the backbone's TLS certificate by.</summary>
    public string AuthorityCertificatePath => System.IO.Path.Combine(Path, "ca.pem");

    /// <summary>The backbone's certificate, which signs its webhook pushes.</summary>
    public string BackboneCertificatePath => System.IO.Path.Combine(Path, "backbone.pem");

    /// <summary>The operator API key file.</summary>
    public string OperatorKeyPath => System.IO.Path.Combine(Path, "operator-api-key.txt");

    /// <summary>Reads <c>DATA/sandbox/participants.json</c>; a clear error when the backbone has not created it yet.</summary>
    public static SandboxDirectory Open(string dataDirectory)
    {
        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dataDirectory, "sandbox"));
        var file = System.IO.Path.Combine(path, "participants.json");
        if (!File.Exists(file))
        {
            throw new FileNotFoundException(
                $"There is no sandbox at {path} (no participants.json). A backbone creates it on its first start: run `./halfhour serve --data {dataDirectory}`, " +
                "or point --data at the data directory of the backbone you use.", file);
        }

        var participants = JsonSerializer.Deserialize<List<SandboxParticipant>>(File.ReadAllBytes(file), s_json)
            ?? throw new InvalidDataException($"{file} does not list participants.");
        return new SandboxDirectory(path, participants);
    }

    /// <summary>The participant named by its DIP ID or its role code (the first of that role); a <see cref="KeyNotFoundException"/> naming the choices otherwise.</summary>
    public SandboxParticipant Find(string dipIdOrRole)
    {
        ArgumentException.ThrowIfNullOrEmpty(dipIdOrRole);
        return Participants.FirstOrDefault(p => p.DipId == dipIdOrRole)
            ?? Participants.FirstOrDefault(p => string.Equals(p.Role, dipIdOrRole, StringComparison.OrdinalIgnoreCase))
            ?? throw new KeyNotFoundException(
                $"The sandbox at {Path} has no participant '{dipIdOrRole}'; use a DIP ID or role of: {string.Join(", ", Participants.Select(p => $"{p.DipId} ({p.Role})"))}.");
    }

    /// <summary>The operator API key.</summary>
    public string OperatorKey() => File.ReadAllText(OperatorKeyPath).Trim();

    /// <summary>Client options for a sandbox participant at a backbone's address: its certificate, API key, and trust in the sandbox's authority.</summary>
    public DipClientOptions ClientOptions(SandboxParticipant participant, Uri baseAddress)
    {
        ArgumentNullException.ThrowIfNull(participant);
        return new DipClientOptions
        {
            BaseAddress = baseAddress,
            DipId = participant.DipId,
            Role = participant.Role,
            Environment = participant.Environment,
            Certificate = PemCredentials.Load(participant.Certificate, participant.PrivateKey),
            ApiKey = participant.ApiKey,
            ServerTrust = PrivateCaTrust.FromPemFile(AuthorityCertificatePath),
        };
    }
}
