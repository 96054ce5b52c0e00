using System.Collections.Concurrent;
using Halfhour.Broker.Cluster;
using Halfhour.Market.Participants;
using Microsoft.Extensions.Logging;

namespace Halfhour.Broker.Delivery;

/// <summary>How a recipient's endpoint answered one POST of messages.</summary>
public enum WebhookOutcome
{
    /// <summary>Every message was taken (201, or 2xx).</summary>
    AllAccepted,
    /// <summary>Some messages were taken (207): see <see cref="WebhookResponse.Rejected"/>.</summary>
    PartlyAccepted,
    /// <summary>Nothing was taken and retrying later may help (connection failure, timeout, 408, 429, 5xx).</summary>
    RetryLater,
    /// <summary>The batch was too large for the endpoint (413): send fewer at a time.</summary>
    TooLarge,
    /// <summary>The endpoint refused the request itself (400, 401, 403, 404 …): it needs its owner's attention.</summary>
    Refused,
}

/// <summary>The answer of a recipient's endpoint.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Rejected">For <see cref="WebhookOutcome.PartlyAccepted"/>, the transaction IDs the endpoint did not take.</param>
/// <param name="Detail">A sentence for the delivery status and logs.</param>
/// <param name="RetryAfter">The endpoint's Retry-After, when it gave one.</param>
public sealed record WebhookResponse(WebhookOutcome Outcome, IReadOnlySet<string> Rejected, string Detail, TimeSpan? RetryAfter = null);

/// <summary>Sends one array of stamped messages to a recipient's webhook (HTTP, signing, TLS live in the server).</summary>
public interface IWebhookTransport
{
    /// <summary>POSTs <paramref name="messages"/> to <paramref name="config"/>'s callback and reports how it answered; never throws for an endpoint's failure.</summary>
    Task<WebhookResponse> SendAsync(WebhookConfig config, IReadOnlyList<Delivery> messages, CancellationToken cancellationToken);
}

/// <summary>The delivery status of one message for one recipient, in the DIP's words.</summary>
public enum DeliveryStatus
{
    /// <summary>Routed to the recipient, not yet taken.</summary>
    Pending,
    /// <summary>Taken by the recipient.</summary>
    Delivered,
    /// <summary>A delivery attempt failed; the backbone is trying again.</summary>
    Retrying,
    /// <summary>The recipient rejected the message every time it was offered; requeue it to try again.</summary>
    RetriesExhausted,
    /// <summary>Delivery to the recipient is paused (its endpoint refuses requests); it resumes when the endpoint recovers or is reconfigured.</summary>
    Paused,
}

/// <summary>Options of webhook delivery; the defaults say why they are what they are.</summary>
public sealed record WebhookDeliveryOptions
{
    /// <summary>First retry after one second: long enough for a restarting endpoint, short enough to be unnoticed.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Retries settle at five minutes: a recipient down for a day is tried ~300 times, cheaply, and resumes within minutes of returning.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>A message the endpoint rejects (in a 207) is offered five times before it is set aside as RetriesExhausted.</summary>
    public int MaxAttemptsPerMessage { get; init; } = 5;

    /// <summary>The default batch when the recipient's configuration does not set one.</summary>
    public int DefaultMaxMessageCount { get; init; } = 100;

    /// <summary>
    /// Set when several broker nodes share the store: each recipient channel is delivered by the node holding its
    /// lease (<see cref="DeliveryLeases.NameOf"/>), taken over by another node when the holder dies. Null: this node delivers every channel.
    /// </summary>
    public IWorkLeases? Leases { get; init; }

    /// <summary>A second between attempts after the store failed (a leader election takes a few); the durable cursor is read again first.</summary>
    public TimeSpan FailurePause { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Pushes each configured recipient's messages to its webhook: one sequential loop per recipient and
/// channel, so messages arrive in inbox order (and so in order per MPAN); a failed POST is retried with
/// exponential back-off and jitter, never skipped; messages rejected in a 207 are retried on their own
/// before anything newer is sent, and set aside only after <see cref="WebhookDeliveryOptions.MaxAttemptsPerMessage"/>.
/// Acknowledgement (the durable cursor) follows the endpoint's answer, so a crash re-sends at most the
/// batch in flight: at least once.
/// With several nodes (<see cref="WebhookDeliveryOptions.Leases"/>) a channel's loop runs on every node but delivers
/// only while its node holds the channel's lease; a node that gains the lease reads the durable cursor again
/// before it sends, so it resumes after what the previous holder had acknowledged. A store failure (a leader
/// election) pauses the loop, which then reads the durable cursor again: what was in flight is sent again, with
/// the same transaction IDs.
/// </summary>
public sealed class WebhookDelivery : IAsyncDisposable
{
    private readonly Func<MarketEnvironment, string, string, RecipientSubscription> _subscriptions;
    private readonly WebhookConfigStore _configs;
    private readonly IWebhookTransport _transport;
    private readonly WebhookDeliveryOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<(MarketEnvironment, string, string), Loop> _loops = new();
    private readonly ConcurrentDictionary<(MarketEnvironment, string, string), ConcurrentDictionary<string, DeliveryStatus>> _statuses = new();

    /// <summary>Creates the pusher; call <see cref="Start"/> to begin.</summary>
    public WebhookDelivery(Func<MarketEnvironment, string, string, RecipientSubscription> subscriptions, WebhookConfigStore configs, IWebhookTransport transport,
        WebhookDeliveryOptions options, ILogger logger)
    {
        _subscriptions = subscriptions;
        _configs = configs;
        _transport = transport;
        _options = options;
        _logger = logger;
    }

    /// <summary>Starts a loop for every configured webhook, and for each configured later.</summary>
    public void Start()
    {
        _configs.Changed += Reconcile;
        foreach (var (environment, dipId, interfaceId, _) in _configs.All())
        {
            Reconcile(environment, dipId, interfaceId);
        }
    }

    /// <summary>The status of a message for a recipient as the pusher knows it, or null when it has no news of it.</summary>
    public DeliveryStatus? StatusOf(MarketEnvironment environment, string dipId, string interfaceId, string transactionId)
        => _statuses.TryGetValue((environment, dipId, interfaceId), out var statuses) && statuses.TryGetValue(transactionId, out var status) ? status : null;

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _configs.Changed -= Reconcile;
        await _stopping.CancelAsync();
        foreach (var loop in _loops.Values)
        {
            await loop.StopAsync();
        }

        _stopping.Dispose();
    }

    private void Reconcile(MarketEnvironment environment, string dipId, string interfaceId)
    {
        var key = (environment, dipId, interfaceId);
        if (_configs.Get(environment, dipId, interfaceId) is null)
        {
            if (_loops.TryRemove(key, out var stopped))
            {
                _ = stopped.StopAsync();
            }

            return;
        }

        _loops.GetOrAdd(key, k => new Loop(this, k.Item1, k.Item2, k.Item3));
    }

    private void SetStatus((MarketEnvironment, string, string) key, IEnumerable<Delivery> messages, DeliveryStatus status)
    {
        var statuses = _statuses.GetOrAdd(key, _ => new ConcurrentDictionary<string, DeliveryStatus>(StringComparer.Ordinal));
        foreach (var message in messages)
        {
            if (status == DeliveryStatus.Delivered)
            {
                statuses.TryRemove(message.TransactionId, out _); // delivered is known from the cursor; keep the map small
            }
            else
            {
                statuses[message.TransactionId] = status;
            }
        }
    }

    /// <summary>One recipient channel's sequential delivery loop.</summary>
    private sealed class Loop
    {
        private readonly WebhookDelivery _owner;
        private readonly (MarketEnvironment Environment, string DipId, string InterfaceId) _key;
        private readonly CancellationTokenSource _stop;
        private readonly Task _run;
        private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
        private List<Delivery>? _retry;
        private int _failures;

        public Loop(WebhookDelivery owner, MarketEnvironment environment, string dipId, string interfaceId)
        {
            _owner = owner;
            _key = (environment, dipId, interfaceId);
            _stop = CancellationTokenSource.CreateLinkedTokenSource(owner._stopping.Token);
            _run = Task.Run(() => RunAsync(_stop.Token));
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _run;
            }
            catch (OperationCanceledException)
            {
            }

            _stop.Dispose();
        }

        private async Task RunAsync(CancellationToken cancellationToken)
        {
            var subscription = _owner._subscriptions(_key.Environment, _key.DipId, _key.InterfaceId);
            var leases = _owner._options.Leases;
            var work = DeliveryLeases.NameOf(_key.Environment, _key.DipId, _key.InterfaceId);
            try
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    try
                    {
                        var config = _owner._configs.Get(_key.Environment, _key.DipId, _key.InterfaceId);
                        if (config is null)
                        {
                            return;
                        }

                        var wait = TimeSpan.FromSeconds(30);
                        if (leases is not null)
                        {
                            if (!await HoldAsync(subscription, leases, work, cancellationToken))
                            {
                                // Held elsewhere: look again often (a create that fails costs one small request), so a dead
                                // holder's channel is taken over within a second of its lease expiring, not half a lease later.
                                await Task.Delay(leases.TakeOverWithin / 6, cancellationToken);
                                continue;
                            }

                            wait = leases.TakeOverWithin / 2; // look at the lease again soon even when nothing arrives
                        }

                        _retry = await SendOnceAsync(subscription, config, leases, work, wait, cancellationToken);
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        // The store (or the lease store) failed: start again from the durable cursor, never skipping.
                        _owner._logger.LogWarning("Webhook delivery of {Recipient} for {Interface} failed ({Error}: {Message}); resuming from the durable cursor",
                            _key.DipId, _key.InterfaceId, ex.GetType().Name, ex.Message);
                        _retry = null;
                        await Task.Delay(_owner._options.FailurePause, cancellationToken);
                        await subscription.ReloadAsync(cancellationToken);
                    }
                }
            }
            finally
            {
                if (leases is not null)
                {
                    await ReleaseQuietlyAsync(leases, work);
                }
            }
        }

        /// <summary>True when this node holds the channel's lease; a lease newly gained starts from the durable cursor.</summary>
        private async Task<bool> HoldAsync(RecipientSubscription subscription, IWorkLeases leases, string work, CancellationToken cancellationToken)
        {
            if (leases.Holds(work))
            {
                return true;
            }

            if (!await leases.TryAcquireAsync(work, cancellationToken))
            {
                return false;
            }

            // The previous holder may have delivered and acknowledged more than this node knows.
            await subscription.ReloadAsync(cancellationToken);
            _attempts.Clear();
            _retry = null;
            return true;
        }

        private static async Task ReleaseQuietlyAsync(IWorkLeases leases, string work)
        {
            try
            {
                await leases.ReleaseAsync(work, CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // It expires on its own within TakeOverWithin.
            }
        }

        /// <summary>Fetches (or takes the batch to send again) and POSTs once; returns what to send again next, or null.</summary>
        private async Task<List<Delivery>?> SendOnceAsync(RecipientSubscription subscription, WebhookConfig config, IWorkLeases? leases, string work,
            TimeSpan wait, CancellationToken cancellationToken)
        {
            var max = config.MaxMessageCount > 0 ? config.MaxMessageCount : _owner._options.DefaultMaxMessageCount;
            var batch = _retry ?? [.. await subscription.FetchAsync(max, wait, cancellationToken)];
            _retry = null;
            if (batch.Count == 0 || (leases is not null && !leases.Holds(work)))
            {
                return null; // nothing, or the lease was lost meanwhile: its new holder sends these
            }

            batch = FitPayload(batch, config.MaxPayloadKilobytes, out var overflow);
            if (overflow.Count > 0)
            {
                // Hand the rest back at once: they follow in the next POST, in order.
                await subscription.ReleaseAsync([.. overflow.Select(d => d.Receipt)], TimeSpan.Zero, cancellationToken);
            }

            var response = await _owner._transport.SendAsync(config, batch, cancellationToken);
            switch (response.Outcome)
            {
                case WebhookOutcome.AllAccepted:
                    _failures = 0;
                    await AcknowledgeAsync(subscription, batch, _attempts, cancellationToken);
                    return null;
                case WebhookOutcome.PartlyAccepted:
                    _failures = 0;
                    var again = await SettlePartialAsync(subscription, batch, response, _attempts, cancellationToken);
                    if (again.Count == 0)
                    {
                        return null;
                    }

                    await Task.Delay(Backoff(1), cancellationToken);
                    return again;
                case WebhookOutcome.TooLarge when batch.Count > 1:
                    var half = batch.Count / 2;
                    await subscription.ReleaseAsync([.. batch.Skip(half).Select(d => d.Receipt)], TimeSpan.Zero, cancellationToken);
                    return batch.Take(half).ToList();
                default:
                    _failures++;
                    var status = response.Outcome is WebhookOutcome.Refused or WebhookOutcome.TooLarge ? DeliveryStatus.Paused : DeliveryStatus.Retrying;
                    _owner.SetStatus(_key, batch, status);
                    var delay = response.RetryAfter is { } after && after > TimeSpan.Zero ? after : Backoff(_failures);
                    _owner._logger.LogWarning("Webhook of {Recipient} for {Interface} failed ({Outcome}: {Detail}); retry {Attempt} in {Delay}",
                        _key.DipId, _key.InterfaceId, response.Outcome, response.Detail, _failures, delay);

                    // Keep the lease while waiting, so nothing newer overtakes these messages.
                    await subscription.ReleaseAsync([.. batch.Select(d => d.Receipt)], delay + subscription.VisibilityTimeout, cancellationToken);
                    await Task.Delay(delay, cancellationToken);
                    return batch;
            }
        }

        private async Task AcknowledgeAsync(RecipientSubscription subscription, List<Delivery> batch, Dictionary<string, int> attempts, CancellationToken cancellationToken)
        {
            await subscription.AckAsync([.. batch.Select(d => d.Receipt)], cancellationToken);
            _owner.SetStatus(_key, batch, DeliveryStatus.Delivered);
            foreach (var delivery in batch)
            {
                attempts.Remove(delivery.TransactionId);
            }
        }

        private async Task<List<Delivery>> SettlePartialAsync(RecipientSubscription subscription, List<Delivery> batch, WebhookResponse response,
            Dictionary<string, int> attempts, CancellationToken cancellationToken)
        {
            var taken = new List<Delivery>();
            var again = new List<Delivery>();
            var exhausted = new List<Delivery>();
            foreach (var delivery in batch)
            {
                if (!response.Rejected.Contains(delivery.TransactionId))
                {
                    taken.Add(delivery);
                    continue;
                }

                var count = attempts[delivery.TransactionId] = attempts.GetValueOrDefault(delivery.TransactionId) + 1;
                (count >= _owner._options.MaxAttemptsPerMessage ? exhausted : again).Add(delivery);
            }

            // Exhausted ones are set aside (acknowledged, status kept) so the channel does not stall for ever on one message.
            await AcknowledgeAsync(subscription, [.. taken, .. exhausted], attempts, cancellationToken);
            _owner.SetStatus(_key, exhausted, DeliveryStatus.RetriesExhausted);
            _owner.SetStatus(_key, again, DeliveryStatus.Retrying);
            if (again.Count > 0)
            {
                await subscription.ReleaseAsync([.. again.Select(d => d.Receipt)], _owner._options.MaxBackoff + subscription.VisibilityTimeout, cancellationToken);
            }

            return again;
        }

        private TimeSpan Backoff(int failures)
        {
            var options = _owner._options;
            var exponential = options.InitialBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 20));
            var capped = Math.Min(exponential, options.MaxBackoff.TotalMilliseconds);

            // Full jitter on the upper half: recipients that failed together do not all retry together.
            return TimeSpan.FromMilliseconds(capped / 2 + Random.Shared.NextDouble() * capped / 2);
        }

        private static List<Delivery> FitPayload(List<Delivery> batch, int maxKilobytes, out List<Delivery> overflow)
        {
            overflow = [];
            if (maxKilobytes <= 0)
            {
                return batch;
            }

            long budget = maxKilobytes * 1024L;
            long used = 2;
            var fitted = new List<Delivery>(batch.Count);
            foreach (var delivery in batch)
            {
                used += delivery.Message.Length + 1;
                if (fitted.Count > 0 && used > budget)
                {
                    overflow.Add(delivery);
                }
                else
                {
                    fitted.Add(delivery);
                }
            }

            return fitted;
        }
    }
}
