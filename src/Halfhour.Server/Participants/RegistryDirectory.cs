using Halfhour.Market.Participants;

namespace Halfhour.Server.Participants;

/// <summary>
/// The broker's view of who exists (<see cref="IParticipantDirectory"/>), read from the live
/// <see cref="ParticipantRegistry"/>: a participant an operator registers is routable from its next message on.
/// </summary>
public sealed class RegistryDirectory(ParticipantRegistry registry) : IParticipantDirectory
{
    private readonly ParticipantRegistry _registry = registry;

    /// <inheritdoc />
    public Participant? Find(MarketEnvironment environment, string dipId) =>
        _registry.Find(new ParticipantKey(environment, dipId))?.Participant;

    /// <inheritdoc />
    public IReadOnlyList<Participant> InRole(MarketEnvironment environment, Role role) => _registry.InRole(environment, role);
}
