namespace Halfhour.Market.Participants;

/// <summary>
/// Who is who in the market, per environment (a DIP ID may exist in production and in test environments
/// as different registrations, never visible to each other). Implementations must be safe to call from many threads.
/// </summary>
public interface IParticipantDirectory
{
    /// <summary>The participant with <paramref name="dipId"/> in <paramref name="environment"/>, or null when there is none.</summary>
    Participant? Find(MarketEnvironment environment, string dipId);

    /// <summary>Every participant holding <paramref name="role"/> in <paramref name="environment"/>.</summary>
    IReadOnlyList<Participant> InRole(MarketEnvironment environment, Role role);
}

/// <summary>A directory held in memory, built once from a list of participants.</summary>
public sealed class ParticipantDirectory : IParticipantDirectory
{
    private readonly Dictionary<(MarketEnvironment, string), Participant> _byDipId = [];
    private readonly Dictionary<(MarketEnvironment, Role), List<Participant>> _byRole = [];

    /// <summary>A directory of <paramref name="participants"/>; a DIP ID appearing twice in one environment is a configuration error.</summary>
    public ParticipantDirectory(IEnumerable<Participant> participants)
    {
        ArgumentNullException.ThrowIfNull(participants);
        foreach (var participant in participants)
        {
            if (!_byDipId.TryAdd((participant.Environment, participant.DipId), participant))
            {
                throw new ArgumentException($"DIP ID {participant.DipId} is given to two participants in {participant.Environment}.", nameof(participants));
            }

            if (!_byRole.TryGetValue((participant.Environment, participant.Role), out var holders))
            {
                _byRole[(participant.Environment, participant.Role)] = holders = [];
            }

            holders.Add(participant);
        }
    }

    /// <inheritdoc />
    public Participant? Find(MarketEnvironment environment, string dipId) => _byDipId.GetValueOrDefault((environment, dipId));

    /// <inheritdoc />
    public IReadOnlyList<Participant> InRole(MarketEnvironment environment, Role role) => _byRole.TryGetValue((environment, role), out var holders) ? holders : [];
}
