namespace Halfhour.Engines.Nats;

/// <summary>
/// A deadline for the small requests a stream's leader answers in milliseconds (a message get, a lease request),
/// shorter than the connection's request timeout. A request that reaches a stream whose leader just died is never
/// answered; waiting out the whole request timeout (ten seconds by default) would stall every reader and lease that
/// long after each leader election, while failing early lets the caller — which already retries every store failure
/// from its durable state — try again soon after the new leader is up.
/// </summary>
internal static class QuickRequest
{
    /// <summary>Two seconds: hundreds of times a normal answer, so only a request nobody will answer runs out of it.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>A token cancelled by <paramref name="cancellationToken"/> or after <paramref name="timeout"/>, whichever comes first.</summary>
    public static CancellationTokenSource Deadline(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        return deadline;
    }

    /// <summary>Whether <paramref name="exception"/> is the deadline running out rather than the caller cancelling.</summary>
    public static bool TimedOut(Exception exception, CancellationToken cancellationToken)
        => exception is OperationCanceledException && !cancellationToken.IsCancellationRequested;
}
