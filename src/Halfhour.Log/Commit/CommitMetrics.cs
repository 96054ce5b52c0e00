namespace Halfhour.Log.Commit;

/// <summary>Counters of the writer's group commits, for metrics and for tuning the commit policy.</summary>
public sealed class CommitMetrics
{
    private long _commits;
    private long _appends;
    private long _bytes;
    private long _fsyncs;
    private long _lastFlushTicks;

    /// <summary>Group commits done.</summary>
    public long Commits => Volatile.Read(ref _commits);

    /// <summary>Append calls acknowledged.</summary>
    public long Appends => Volatile.Read(ref _appends);

    /// <summary>Bytes of batches written.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Syncs made to commit: one data sync of the commit journal per group, or an fsync per segment file written without it.</summary>
    public long Fsyncs => Volatile.Read(ref _fsyncs);

    /// <summary>How long the last commit's fsyncs took.</summary>
    public TimeSpan LastFlushDuration => TimeSpan.FromTicks(Volatile.Read(ref _lastFlushTicks));

    internal void Record(int appends, long bytes, int fsyncs, TimeSpan flush)
    {
        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _appends, appends);
        Interlocked.Add(ref _bytes, bytes);
        Interlocked.Add(ref _fsyncs, fsyncs);
        Volatile.Write(ref _lastFlushTicks, flush.Ticks);
    }
}
