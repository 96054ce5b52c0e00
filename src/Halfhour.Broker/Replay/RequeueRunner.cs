using System.Collections.Concurrent;
using System.Globalization;
using Halfhour.Broker.Delivery;
using Halfhour.Market.Participants;
using Microsoft.Extensions.Logging;

namespace Halfhour.Broker.Replay;

/// <summary>Where a requeue stands, in the DIP's words.</summary>
public enum RequeueState
{
    /// <summary>Still pushing.</summary>
    Processing,
    /// <summary>Every matching message was taken by the webhook.</summary>
    Completed,
    /// <summary>Nothing could be pushed.</summary>
    Failed,
    /// <summary>Some matching messages were taken, others not.</summary>
    PartialCompletion,
}

/// <summary>The progress of one requeue (the DIP's RequeueStatus).</summary>
/// <param name="RequeueId">Its ID.</param>
/// <param name="InterfaceId">The channel.</param>
/// <param name="State">Where it stands.</param>
/// <param name="TotalTransactions">How many messages matched.</param>
/// <param name="ProcessedTransactions">How many the webhook has taken so far.</param>
/// <param name="Detail">Why it failed or stopped short, when it did.</param>
public sealed record RequeueProgress(string RequeueId, string InterfaceId, RequeueState State, long TotalTransactions, long ProcessedTransactions, string? Detail)
{
    /// <summary>Taken over matched, in percent (100 when nothing matched).</summary>
    public double PercentComplete => TotalTransactions == 0 ? 100 : Math.Round(100.0 * ProcessedTransactions / TotalTransactions, 1);
}

/// <summary>A requeue is already running for the recipient.</summary>
/// <param name="running">The running requeue's ID.</param>
public sealed class RequeueBusyException(string running) : InvalidOperationException($"Requeue {running} is still running; one requeue at a time per recipient.")
{
    /// <summary>The running requeue's ID.</summary>
    public string RunningRequeueId { get; } = running;
}

/// <summary>Options of requeues; each default says why.</summary>
public sealed record RequeueOptions
{
    /// <summary>A page the webhook refuses for a passing reason is tried five times (with back-off) before the requeue gives up on it.</summary>
    public int MaxAttemptsPerPage { get; init; } = 5;

    /// <summary>The first back-off; doubled each attempt. One second, as for live delivery.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Keep the last 20 requeues per recipient for requeueStatus: enough for an operator's day, bounded in memory.</summary>
    public int RememberedPerRecipient { get; init; } = 20;

    /// <summary>Messages per push when the webhook configuration does not say.</summary>
    public int DefaultMaxMessageCount { get; init; } = 100;
}

/// <summary>
/// Re-pushes what was routed to a recipient (a replay query) to its webhook in the background, marked
/// replayIndicator true, one requeue at a time per recipient. Independent of the live delivery loop: the
/// recipient's cursor does not move, and live messages keep flowing beside the requeued ones.
/// Failure semantics: progress lives in memory; a restart forgets running and finished requeues (the
/// recipient asks again: a requeue is idempotent for a receiver that de-duplicates on transaction ID).
/// </summary>
public sealed class RequeueRunner(ReplayService replays, WebhookConfigStore webhooks, IWebhookTransport transport, RequeueOptions options, TimeProvider time,
    ILogger logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(MarketEnvironment, string), Recipient> _recipients = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, bool> _running = new();

    /// <summary>Starts a requeue of <paramref name="query"/> on <paramref name="interfaceId"/> to the recipient's webhook; returns its ID at once.</summary>
    /// <exception cref="RequeueBusyException">One is already running for the recipient.</exception>
    /// <exception cref="InvalidOperationException">The recipient has no webhook for the channel.</exception>
    public string Start(MarketEnvironment environment, string dipId, string interfaceId, ReplayQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (webhooks.Get(environment, dipId, interfaceId) is null)
        {
            throw new InvalidOperationException($"{dipId} has no webhook for {interfaceId}; a requeue pushes to the webhook, so register one (pubconfig, or statusmessage/config for status messages) or use replay.");
        }

        var recipient = _recipients.GetOrAdd((environment, dipId), _ => new Recipient());
        var id = string.Create(CultureInfo.InvariantCulture, $"{dipId}-{time.GetUtcNow():yyyyMMddHHmmss}-{Guid.NewGuid():N}");
        lock (recipient)
        {
            if (recipient.Running is { } running) throw new RequeueBusyException(running);
            recipient.Running = id;
            recipient.Progress[id] = new RequeueProgress(id, interfaceId, RequeueState.Processing, 0, 0, null);
            recipient.Order.Enqueue(id);
            while (recipient.Order.Count > options.RememberedPerRecipient && recipient.Order.TryDequeue(out var old)) recipient.Progress.Remove(old);
        }

        var run = Task.Run(() => RunAsync(recipient, environment, dipId, interfaceId, id, query, _stopping.Token));
        _running[run] = true;
        _ = run.ContinueWith(t => _running.TryRemove(t, out _), TaskScheduler.Default);
        return id;
    }

    /// <summary>The recipient's requeues on a channel, newest last (or only <paramref name="requeueId"/>).</summary>
    public IReadOnlyList<RequeueProgress> StatusOf(MarketEnvironment environment, string dipId, string interfaceId, string? requeueId = null)
    {
        if (!_recipients.TryGetValue((environment, dipId), out var recipient)) return [];
        lock (recipient)
        {
            return [.. recipient.Order.Select(id => recipient.Progress.GetValueOrDefault(id))
                .Where(p => p is not null && p.InterfaceId == interfaceId && (requeueId is null || p.RequeueId == requeueId))
                .Select(p => p!)];
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await Task.WhenAll(_running.Keys);
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }

    private async Task RunAsync(Recipient recipient, MarketEnvironment environment, string dipId, string interfaceId, string id, ReplayQuery query,
        CancellationToken cancellationToken)
    {
        long total = 0, processed = 0;
        void Report(RequeueState state, string? detail = null)
        {
            lock (recipient)
            {
                recipient.Progress[id] = new RequeueProgress(id, interfaceId, state, total, processed, detail);
                if (state != RequeueState.Processing) recipient.Running = null;
            }
        }

        try
        {
            total = await CountAsync(environment, dipId, interfaceId, query, cancellationToken);
            Report(RequeueState.Processing);
            string? token = null;
            var failed = 0L;
            do
            {
                var config = webhooks.Get(environment, dipId, interfaceId);
                if (config is null)
                {
                    Report(processed > 0 ? RequeueState.PartialCompletion : RequeueState.Failed, "The webhook was removed while the requeue ran.");
                    return;
                }

                var pageSize = config.MaxMessageCount > 0 ? config.MaxMessageCount : options.DefaultMaxMessageCount;
                var page = await replays.ReplayAsync(environment, dipId, interfaceId, query, token, pageSize, cancellationToken);
                token = page.ContinuationToken;
                var batch = new List<Delivery.Delivery>(page.Messages.Count);
                for (var i = 0; i < page.Messages.Count; i++)
                {
                    batch.Add(new Delivery.Delivery(string.Empty, page.Identities[i].TransactionId, page.Identities[i].Mpan, page.Messages[i], 1));
                }

                var (taken, refusal) = await PushAsync(config, batch, cancellationToken);
                processed += taken;
                failed += batch.Count - taken;
                Report(RequeueState.Processing);
                if (refusal is not null)
                {
                    Report(processed > 0 ? RequeueState.PartialCompletion : RequeueState.Failed, refusal);
                    return;
                }
            }
            while (token is not null);

            Report(failed == 0 ? RequeueState.Completed : processed > 0 ? RequeueState.PartialCompletion : RequeueState.Failed,
                failed == 0 ? null : $"{failed} messages were not taken by the webhook.");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Report(processed > 0 ? RequeueState.PartialCompletion : RequeueState.Failed, "The backbone stopped while the requeue ran.");
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or FormatException)
        {
            logger.LogError(e, "Requeue {RequeueId} of {Recipient} on {Interface} failed", id, dipId, interfaceId);
            Report(processed > 0 ? RequeueState.PartialCompletion : RequeueState.Failed, e.Message);
        }
    }

    /// <summary>Pushes one page until taken, retrying passing failures; returns how many were taken and, when the webhook refuses for good, why.</summary>
    private async Task<(int Taken, string? Refusal)> PushAsync(WebhookConfig config, List<Delivery.Delivery> batch, CancellationToken cancellationToken)
    {
        var taken = 0;
        for (var attempt = 1; batch.Count > 0; attempt++)
        {
            var response = await transport.SendAsync(config, batch, cancellationToken);
            switch (response.Outcome)
            {
                case WebhookOutcome.AllAccepted:
                    return (taken + batch.Count, null);
                case WebhookOutcome.PartlyAccepted:
                    var rest = batch.Where(d => response.Rejected.Contains(d.TransactionId)).ToList();
                    taken += batch.Count - rest.Count;
                    batch = rest;
                    break;
                case WebhookOutcome.TooLarge when batch.Count > 1:
                    var (first, second) = (batch[..(batch.Count / 2)], batch[(batch.Count / 2)..]);
                    var (a, refusedA) = await PushAsync(config, first, cancellationToken);
                    if (refusedA is not null) return (taken + a, refusedA);
                    var (b, refusedB) = await PushAsync(config, second, cancellationToken);
                    return (taken + a + b, refusedB);
                case WebhookOutcome.Refused or WebhookOutcome.TooLarge:
                    return (taken, $"The webhook refused the requeued messages: {response.Detail}");
            }

            if (attempt >= options.MaxAttemptsPerPage) return (taken, null);
            var backoff = response.RetryAfter ?? options.InitialBackoff * Math.Pow(2, attempt - 1);
            await Task.Delay(backoff, time, cancellationToken);
        }

        return (taken, null);
    }

    private async Task<long> CountAsync(MarketEnvironment environment, string dipId, string interfaceId, ReplayQuery query, CancellationToken cancellationToken)
    {
        long count = 0;
        string? token = null;
        do
        {
            var page = await replays.ReplayAsync(environment, dipId, interfaceId, query, token, 1000, cancellationToken);
            count += page.Messages.Count;
            token = page.ContinuationToken;
        }
        while (token is not null);
        return count;
    }

    private sealed class Recipient
    {
        public string? Running { get; set; }
        public Dictionary<string, RequeueProgress> Progress { get; } = new(StringComparer.Ordinal);
        public Queue<string> Order { get; } = new();
    }
}
