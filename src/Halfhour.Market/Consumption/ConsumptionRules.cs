namespace Halfhour.Market.Consumption;

/// <summary>Which instant of its half hour a consumption period's <c>sp</c> names.</summary>
public enum PeriodStamp : byte
{
    /// <summary>The period's UTC start: a day's periods are stamped 00:00, 00:30 … 23:30 (the project's reading).</summary>
    Start,
    /// <summary>The period's UTC end: 00:30 … 24:00 (the catalogue calls DI-082 "Settlement Period Effective To Date/Time").</summary>
    End,
}

/// <summary>
/// The conventions and limits the IF-021 validator applies beyond the schema, as one swappable options record:
/// a deployment that reads <c>sp</c> as the period's end, or allows larger messages, says so here.
/// </summary>
public sealed record ConsumptionRules
{
    /// <summary>The rules the backbone applies unless configured otherwise.</summary>
    public static ConsumptionRules Default { get; } = new();

    /// <summary>Which instant of its half hour <c>sp</c> names; <see cref="PeriodStamp.Start"/> unless configured.</summary>
    public PeriodStamp PeriodStamp { get; init; } = PeriodStamp.Start;

    /// <summary>
    /// The largest message read, in bytes. The schema's largest message (200 days of 48 periods, about 75 bytes a
    /// period compact) is about 0.75 MB; 4 MiB leaves room for pretty-printing and still bounds the work per message.
    /// </summary>
    public int MaxMessageBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// The most entries in each A0 recipient list. The schema sets no bound; the whole market is about 400
    /// participants, so a list longer than 1,000 is not addressing but an attack on memory.
    /// </summary>
    public int MaxRecipients { get; init; } = 1000;
}
