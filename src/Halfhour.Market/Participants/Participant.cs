namespace Halfhour.Market.Participants;

/// <summary>An organisation in one market role, in one environment, identified by its 10-digit DIP ID.</summary>
public sealed record Participant
{
    /// <summary>The 10-digit DIP participant ID.</summary>
    public required string DipId { get; init; }

    /// <summary>The one role this DIP ID holds.</summary>
    public required Role Role { get; init; }

    /// <summary>The 4-letter market participant ID (MPID).</summary>
    public required string Mpid { get; init; }

    /// <summary>The organisation's name.</summary>
    public required string Name { get; init; }

    /// <summary>The environment the participant's credentials belong to.</summary>
    public required MarketEnvironment Environment { get; init; }
}
