using System.Text.Json.Serialization;
using Halfhour.Market.Participants;

namespace Halfhour.Server.Participants;

/// <summary>A participant as the backbone knows it: who it is and which credentials identify it now.</summary>
public sealed record RegisteredParticipant
{
    /// <summary>DIP ID, role, MPID, name and environment.</summary>
    public required Participant Participant { get; init; }

    /// <summary>The certificates that identify it (mTLS) and may sign its messages; more than one during a rotation.</summary>
    public required IReadOnlyList<RegisteredCertificate> Certificates { get; init; }

    /// <summary>The hashes of its API keys; more than one during a rotation.</summary>
    public required IReadOnlyList<RegisteredApiKey> ApiKeys { get; init; }

    /// <summary>The registry key: environment and DIP ID.</summary>
    [JsonIgnore]
    public ParticipantKey Key => new(Participant.Environment, Participant.DipId);
}

/// <summary>A participant's identity within the deployment: a DIP ID in one environment. Environments are isolated, so the same DIP ID in two is two participants.</summary>
/// <param name="Environment">The environment.</param>
/// <param name="DipId">The 10-digit DIP ID.</param>
public readonly record struct ParticipantKey(MarketEnvironment Environment, string DipId)
{
    /// <inheritdoc />
    public override string ToString() => $"{DipId} in {Environment}";
}

/// <summary>A registered certificate.</summary>
/// <param name="Thumbprint">SHA-256 of the DER certificate, upper-case hex.</param>
/// <param name="Subject">The subject, for people reading the registry.</param>
/// <param name="NotAfter">When it expires.</param>
/// <param name="RegisteredAt">When the operator registered it.</param>
public sealed record RegisteredCertificate(string Thumbprint, string Subject, DateTimeOffset NotAfter, DateTimeOffset RegisteredAt);

/// <summary>A registered API key, as its hash.</summary>
/// <param name="Sha256">SHA-256 of the key, upper-case hex (see <see cref="Credentials.ApiKeys.Hash"/>).</param>
/// <param name="IssuedAt">When it was issued.</param>
public sealed record RegisteredApiKey(string Sha256, DateTimeOffset IssuedAt);
