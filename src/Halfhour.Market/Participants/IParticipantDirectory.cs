namespace Halfhour.Market.Participants;

/// <summary>Who is who in the market: finds a participant by DIP ID. Implementations must be safe to call from many threads.</summary>
public interface IParticipantDirectory
{
    /// <summary>The participant with <paramref name="dipId"/>, or null when there is none.</summary>
    Participant? Find(string dipId);
}

/// <summary>A directory held in memory, built once from a list of participants.</summary>
public sealed class ParticipantDirectory : IParticipantDirectory
{
    private readonly Dictionary<string, Participant> _byDipId = new(StringComparer.Ordinal);

    /// <summary>A directory of <paramref name="participants"/>; a DIP ID appearing twice is a configuration error.</summary>
    public ParticipantDirectory(IEnumerable<Participant> participants)
    {
        ArgumentNullException.ThrowIfNull(participants);
        foreach (var participant in participants)
        {
            if (!_byDipId.TryAdd(participant.DipId, participant))
            {
                throw new ArgumentException($"DIP ID {participant.DipId} is given to two participants.", nameof(participants));
            }
        }
    }

    /// <inheritdoc />
    public Participant? Find(string dipId) => _byDipId.GetValueOrDefault(dipId);
}
