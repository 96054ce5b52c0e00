using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;

namespace Halfhour.Engines.Nats;

/// <summary>
/// Every request the store makes to JetStream goes through here. Each request waits at most
/// <see cref="JetStreamStoreOptions.AttemptTimeout"/> for its answer (nats.net's own request timeout, set on the
/// connection and the JetStream context: nothing is cancelled from outside). A request that may be sent again —
/// a read, or a publish carrying a <c>Nats-Msg-Id</c>, which the server stores once however often it arrives — is
/// sent again when it got no answer, until <see cref="JetStreamStoreOptions.RequestTimeout"/> has passed: after a
/// stream leader's death the retry reaches the new leader as soon as it is elected.
/// What a node waits on is visible: a call slower than <see cref="SlowAfter"/>, retried or failed is logged with its
/// subject and duration, and once a second the calls still waiting longer than that are listed.
/// </summary>
internal sealed class StoreCalls : IDisposable
{
    /// <summary>Normal answers take milliseconds; a call slower than this is worth a line in the log.</summary>
    public static readonly TimeSpan SlowAfter = TimeSpan.FromSeconds(1);

    /// <summary>
    /// A request refused at once (no responders: nothing serves the stream this instant, e.g. right after a
    /// reconnect) is sent again after this pause, so a retry loop does not spin.
    /// </summary>
    private static readonly TimeSpan RefusedPause = TimeSpan.FromMilliseconds(250);

    private readonly ILogger _log;
    private readonly TimeSpan _retryFor;
    private readonly ConcurrentDictionary<long, Call> _inFlight = new();
    private readonly Timer _watchdog;
    private long _next;

    public StoreCalls(ILoggerFactory? loggers, TimeSpan retryFor)
    {
        _log = (loggers ?? NullLoggerFactory.Instance).CreateLogger("Halfhour.Engines.Nats.Calls");
        _retryFor = retryFor;
        _watchdog = new Timer(_ => ReportWaiting(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>Runs <paramref name="call"/> once (it must not be repeated blindly: a key-value create or compare-and-set), logging it when slow or failed.</summary>
    public ValueTask<T> RunAsync<T>(string kind, string subject, Func<CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken)
        => RunAsync(kind, subject, call, retryUntil: null, quiet: false, cancellationToken);

    /// <summary>
    /// Runs <paramref name="call"/>, which is safe to repeat (a read, a publish with a message ID), and sends it again
    /// while it gets no answer, for up to the store's request timeout, or until <paramref name="retryUntil"/> (a
    /// <see cref="Stopwatch"/> timestamp: one deadline shared by the publishes of an append).
    /// </summary>
    public ValueTask<T> RetryAsync<T>(string kind, string subject, Func<CancellationToken, ValueTask<T>> call, CancellationToken cancellationToken,
        long? retryUntil = null)
        => RunAsync(kind, subject, call, retryUntil ?? Deadline(), quiet: false, cancellationToken);

    /// <summary>
    /// A key-value create (<paramref name="expectedRevision"/> null) or compare-and-set, made safe to send again: when
    /// an attempt gets no answer, the entry is read back — holding <paramref name="value"/> at a new revision, the write
    /// landed (success); still as before, it did not, and it is sent again, until the store's request timeout. Anything
    /// else (another writer's value) returns the unanswered attempt's failure, which the caller handles by reading again.
    /// </summary>
    public async ValueTask<NatsResult<ulong>> WriteAsync(string kind, INatsKVStore bucket, string key, byte[] value, ulong? expectedRevision,
        CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var until = Deadline();
        for (var attempt = 1; ; attempt++)
        {
            var result = await RunAsync(kind, key, ct => expectedRevision is { } revision
                ? bucket.TryUpdateAsync(key, value, revision, cancellationToken: ct)
                : bucket.TryCreateAsync(key, value, cancellationToken: ct), retryUntil: null, quiet: true, cancellationToken);
            if (result.Success || !IsUnanswered(result.Error))
            {
                if (attempt > 1)
                {
                    _log.LogInformation("{Kind} {Subject} answered after {Milliseconds} ms, {Attempts} attempts", kind, key,
                        (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, attempt);
                }

                return result;
            }

            var entry = await RetryAsync(kind + " check", key, ct => bucket.TryGetEntryAsync<byte[]>(key, cancellationToken: ct), cancellationToken, until);
            var landed = entry.Success && entry.Value.Revision != expectedRevision && (entry.Value.Value ?? []).AsSpan().SequenceEqual(value);
            if (landed)
            {
                _log.LogInformation("{Kind} {Subject}: attempt {Attempt} got no answer but was applied", kind, key, attempt);
                return entry.Value.Revision;
            }

            var notYet = expectedRevision is { } expected
                ? entry.Success && entry.Value.Revision == expected
                : !entry.Success && entry.Error is NatsKVKeyNotFoundException or NatsKVKeyDeletedException;
            if (!notYet || Stopwatch.GetTimestamp() >= until)
            {
                Failed(kind, key, started, attempt, result.Error);
                return result;
            }
        }
    }

    /// <summary>The <see cref="Stopwatch"/> timestamp the store's request timeout from now.</summary>
    public long Deadline() => Stopwatch.GetTimestamp() + (long)(_retryFor.TotalSeconds * Stopwatch.Frequency);

    public void Dispose() => _watchdog.Dispose();

    /// <summary>
    /// Whether <paramref name="error"/> says nothing answered (a request lost, or nothing serving the stream now) or
    /// JetStream is between leaders (503 "JetStream system temporarily unavailable"), rather than a real answer.
    /// </summary>
    public static bool IsUnanswered(Exception? error)
        => error is NatsJSPublishNoResponseException or NatsJSApiNoResponseException or NatsNoReplyException or NatsNoRespondersException
            or NatsTimeoutException or NatsJSTimeoutException or NatsJSConnectionException or NatsJSApiException { Error.Code: 503 };

    // quiet: an attempt of a caller that reports the outcome itself (no line for a failure).
    private async ValueTask<T> RunAsync<T>(string kind, string subject, Func<CancellationToken, ValueTask<T>> call, long? retryUntil, bool quiet,
        CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _next);
        var started = Stopwatch.GetTimestamp();
        _inFlight[id] = new Call(kind, subject, started);
        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var attemptStarted = Stopwatch.GetTimestamp();
                Exception? unanswered;
                T result = default!;
                var returned = false; // key-value calls return their failures rather than throw them
                try
                {
                    result = await call(cancellationToken);
                    returned = true;
                    unanswered = ErrorOf(result) is { } error && IsUnanswered(error) ? error : null;
                }
                catch (Exception ex) when (IsUnanswered(ex))
                {
                    unanswered = ex;
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not NatsJSApiException) // an API error is an answer: the caller's business
                {
                    Failed(kind, subject, started, attempt, ex);
                    throw;
                }

                if (unanswered is null)
                {
                    if (attempt > 1 || Stopwatch.GetElapsedTime(started) >= SlowAfter)
                    {
                        _log.LogInformation("{Kind} {Subject} answered after {Milliseconds} ms, {Attempts} attempts", kind, subject,
                            (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, attempt);
                    }

                    return result;
                }

                if (retryUntil is not { } until || Stopwatch.GetTimestamp() >= until || cancellationToken.IsCancellationRequested)
                {
                    if (!quiet)
                    {
                        Failed(kind, subject, started, attempt, unanswered);
                    }

                    if (!returned)
                    {
                        ExceptionDispatchInfo.Throw(unanswered);
                    }

                    return result;
                }

                var took = Stopwatch.GetElapsedTime(attemptStarted);
                if (attempt == 1)
                {
                    _log.LogInformation("{Kind} {Subject}: no answer to attempt {Attempt} after {Milliseconds} ms ({Error}); sending it again until answered", kind, subject,
                        attempt, (long)took.TotalMilliseconds, unanswered.GetType().Name);
                }

                if (took < RefusedPause)
                {
                    await Task.Delay(RefusedPause, cancellationToken);
                }
            }
        }
        finally
        {
            _inFlight.TryRemove(id, out _);
        }
    }

    private void Failed(string kind, string subject, long started, int attempts, Exception error)
        => _log.LogWarning("{Kind} {Subject} failed after {Milliseconds} ms, {Attempts} attempts: {Error}: {Message}", kind, subject,
            (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, attempts, error.GetType().Name, error.Message);

    /// <summary>The failure a key-value call returned, if it returned one.</summary>
    private static Exception? ErrorOf<T>(T result) => result switch
    {
        NatsResult<ulong> { Success: false } r => r.Error,
        NatsResult { Success: false } r => r.Error,
        NatsResult<NatsKVEntry<byte[]>> { Success: false } r => r.Error,
        _ => null,
    };

    private void ReportWaiting()
    {
        var now = Stopwatch.GetTimestamp();
        var waiting = _inFlight.Values.Where(c => Stopwatch.GetElapsedTime(c.Started, now) >= SlowAfter).ToList();
        if (waiting.Count == 0)
        {
            return;
        }

        var oldest = waiting.OrderBy(c => c.Started).Take(6)
            .Select(c => $"{c.Kind} {c.Subject} {Stopwatch.GetElapsedTime(c.Started, now).TotalSeconds:F1} s");
        _log.LogWarning("{Count} JetStream calls waiting over {Seconds} s ({Total} in flight); oldest: {Oldest}", waiting.Count, SlowAfter.TotalSeconds,
            _inFlight.Count, string.Join("; ", oldest));
    }

    private readonly record struct Call(string Kind, string Subject, long Started);
}
