namespace Halfhour.Market.Participants;

/// <summary>The participants the backbone knows, as routing needs them.</summary>
public interface IParticipantDirectory
{
    /// <summary>The participant with this DIP ID, or null.</summary>
    Participant? Find(string dipId);

    /// <summary>Every participant holding <paramref name="role"/> in <paramref name="environment"/>.</summary>
    IReadOnlyList<Participant> InRole(MarketEnvironment environment, Role role);
}
