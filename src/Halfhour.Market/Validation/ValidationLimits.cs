namespace Halfhour.Market.Validation;

/// <summary>
/// The limits that keep validation of hostile input bounded in time and memory. Breaking one yields
/// MSG1011 (Limit Exceeded) before any schema work is done.
/// </summary>
public sealed record ValidationLimits
{
    /// <summary>The deepest nesting any limit may allow; sizes the per-thread path buffer.</summary>
    internal const int DepthCeiling = 64;

    /// <summary>The defaults: what every legitimate message of the specification fits with room to spare.</summary>
    public static ValidationLimits Default { get; } = new();

    /// <summary>
    /// The largest message accepted, in bytes. 8 MiB: the largest legitimate message, IF-021 with 200
    /// settlement days of 48 periods, is about 1 MiB; reports (REP-*) carry a compressed body of similar size.
    /// </summary>
    public int MaxMessageBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>
    /// The deepest nesting of objects and arrays accepted. 16: the deepest legitimate message of the
    /// specification nests 8 levels (IF-021 periods inside days inside B900 inside CustomBlock inside
    /// payload), so twice that is generous while a hostile message cannot make the reader recurse far.
    /// </summary>
    public int MaxDepth { get; init; } = 16;
}
