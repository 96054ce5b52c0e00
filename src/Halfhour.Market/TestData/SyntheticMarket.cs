using System.Globalization;
using Halfhour.Market.Participants;

namespace Halfhour.Market.TestData;

/// <summary>
/// A small, consistent market for generated messages: one participant per role, each with a 10-digit
/// DIP ID and a 4-letter MPID, all in one environment. Deterministic, so tests and the simulator agree.
/// </summary>
public sealed class SyntheticMarket
{
    /// <summary>The first DIP ID handed out; the role's number is added, so IDs read as "role N of the synthetic market".</summary>
    private const long FirstDipId = 2_000_000_000;

    /// <summary>A market of one participant per role in <paramref name="environment"/>.</summary>
    public SyntheticMarket(MarketEnvironment environment = MarketEnvironment.DEV)
    {
        Environment = environment;
        var participants = new List<Participant>();
        foreach (var role in Enum.GetValues<Role>())
        {
            var code = role.ToString();
            participants.Add(new Participant
            {
                DipId = (FirstDipId + (int)role).ToString(CultureInfo.InvariantCulture),
                Role = role,
                Mpid = (code + "AAAA")[..4],
                Name = $"Synthetic {code}",
                Environment = environment,
            });
        }

        Participants = participants;
        Directory = new ParticipantDirectory(participants);
    }

    /// <summary>The environment every participant's credentials belong to.</summary>
    public MarketEnvironment Environment { get; }

    /// <summary>Every participant, one per role.</summary>
    public IReadOnlyList<Participant> Participants { get; }

    /// <summary>The participants as a directory.</summary>
    public IParticipantDirectory Directory { get; }

    /// <summary>The participant holding <paramref name="role"/>.</summary>
    public Participant Holding(Role role) => Participants[(int)role - 1];
}
