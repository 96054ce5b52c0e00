namespace Halfhour.Client.Transport;

/// <summary>
/// When <see cref="DipClient"/> sends a request again: on 429 (after <c>Retry-After</c>), on 408 and 5xx answers, and on
/// transport failures (connection refused or reset, timeout) — never on another 4xx, which would be refused again.
/// A retry resends the same bytes, so the same sender unique references: the backbone's de-duplication answers an
/// already-stored message with its original transaction ID (MSG0001) instead of storing it twice.
/// </summary>
public sealed record DipRetryPolicy
{
    /// <summary>The default: six attempts over about eight seconds, enough to ride out a backbone restart or a burst of 429s.</summary>
    public static DipRetryPolicy Default { get; } = new();

    /// <summary>No retries: every failure reaches the caller at once.</summary>
    public static DipRetryPolicy None { get; } = new() { MaxAttempts = 1 };

    /// <summary>Attempts in all, the first included.</summary>
    public int MaxAttempts { get; init; } = 6;

    /// <summary>The wait before the first retry; it doubles after each.</summary>
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest wait between attempts, <c>Retry-After</c> included (a longer Retry-After is cut to it).</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The wait before retry number <paramref name="retry"/> (from 1): doubling, with up to 20 % jitter so many clients do not retry in step.</summary>
    public TimeSpan DelayBefore(int retry, TimeSpan? retryAfter = null)
    {
        if (retryAfter is { } asked) return asked < MaxDelay ? asked : MaxDelay;
        var doubled = InitialDelay.TotalMilliseconds * Math.Pow(2, Math.Min(retry - 1, 20));
        var jittered = doubled * (1 + (0.2 * Random.Shared.NextDouble()));
        return TimeSpan.FromMilliseconds(Math.Min(jittered, MaxDelay.TotalMilliseconds));
    }
}
