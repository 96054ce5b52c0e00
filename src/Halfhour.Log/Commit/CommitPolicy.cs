namespace Halfhour.Log.Commit;

/// <summary>What the writer knows when it decides whether to commit now or wait for more appends.</summary>
/// <param name="PendingBytes">Bytes of batches waiting to be written.</param>
/// <param name="PendingAppends">Append calls waiting for their commit.</param>
/// <param name="Waited">How long the writer has already held back this group.</param>
/// <param name="LastFlushDuration">How long the previous commit's fsyncs took.</param>
/// <param name="LastCommitBytes">How many bytes the previous commit wrote.</param>
public readonly record struct CommitWindow(long PendingBytes, int PendingAppends, TimeSpan Waited, TimeSpan LastFlushDuration, long LastCommitBytes);

/// <summary>
/// When the single writer commits (writes and fsyncs) the appends waiting for it. Every policy groups
/// the appends that arrive while a commit is running into the next one; policies differ in how long
/// they hold a group back to make it larger.
/// </summary>
public abstract class CommitPolicy
{
    /// <summary>Commit as soon as the writer is free: groups form while the previous fsync runs. The default.</summary>
    public static CommitPolicy Immediate { get; } = new ImmediatePolicy();

    /// <summary>Wait until <paramref name="minBytes"/> are pending or <paramref name="maxDelay"/> has passed.</summary>
    public static CommitPolicy ByBytes(long minBytes, TimeSpan maxDelay) => new BytesPolicy(minBytes, maxDelay);

    /// <summary>Hold each group back for <paramref name="delay"/>.</summary>
    public static CommitPolicy ByDelay(TimeSpan delay) => new DelayPolicy(delay);

    /// <summary>
    /// Commit at once when the group is at least as large as the previous one (load is not rising),
    /// else wait up to a quarter of the last fsync time, at most <paramref name="maxDelay"/>: under a
    /// rising load the wait buys a larger group for a fraction of an fsync.
    /// </summary>
    public static CommitPolicy Adaptive(TimeSpan maxDelay) => new AdaptivePolicy(maxDelay);

    /// <summary>How much longer to wait before committing; zero or less means commit now.</summary>
    public abstract TimeSpan DelayBeforeCommit(in CommitWindow window);

    private sealed class ImmediatePolicy : CommitPolicy
    {
        public override TimeSpan DelayBeforeCommit(in CommitWindow window) => TimeSpan.Zero;
    }

    private sealed class BytesPolicy(long minBytes, TimeSpan maxDelay) : CommitPolicy
    {
        public override TimeSpan DelayBeforeCommit(in CommitWindow window)
            => window.PendingBytes >= minBytes ? TimeSpan.Zero : maxDelay - window.Waited;
    }

    private sealed class DelayPolicy(TimeSpan delay) : CommitPolicy
    {
        public override TimeSpan DelayBeforeCommit(in CommitWindow window) => delay - window.Waited;
    }

    private sealed class AdaptivePolicy(TimeSpan maxDelay) : CommitPolicy
    {
        public override TimeSpan DelayBeforeCommit(in CommitWindow window)
        {
            if (window.PendingBytes >= window.LastCommitBytes)
            {
                return TimeSpan.Zero;
            }

            var wait = TimeSpan.FromTicks(Math.Min(maxDelay.Ticks, window.LastFlushDuration.Ticks / 4));
            return wait - window.Waited;
        }
    }
}
