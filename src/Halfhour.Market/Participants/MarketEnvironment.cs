namespace Halfhour.Market.Participants;

/// <summary>
/// An environment of the market. Production and the test environments run side by side on one
/// deployment, fully isolated; the names are the DIP's environment tags (S1.environmentTag).
/// </summary>
public enum MarketEnvironment : byte
{
    /// <summary>Production.</summary>
    PRD = 1,
    /// <summary>System integration test, B.</summary>
    SITB,
    /// <summary>System integration test.</summary>
    SIT,
    /// <summary>User integration test.</summary>
    UIT,
    /// <summary>Development; the sandbox a newcomer publishes to.</summary>
    DEV,
}
