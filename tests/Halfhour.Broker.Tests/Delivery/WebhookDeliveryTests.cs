using System.Collections.Concurrent;
using Halfhour.Broker.Delivery;
using Halfhour.Broker.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Halfhour.Broker.Tests.Delivery;

public abstract class WebhookDeliveryTests(EngineKind engine)
{
    private static readonly WebhookDeliveryOptions Fast = new() { InitialBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(100), MaxAttemptsPerMessage = 3 };

    [Fact]
    public async Task Every_message_is_pushed_once_in_batches_no_larger_than_configured()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var endpoint = new ScriptedEndpoint();
        await using var delivery = await StartAsync(f, endpoint, maxMessageCount: 3);
        var published = await PublishAsync(f, 8);

        await endpoint.WaitForAsync(published.Count);
        Assert.Equal(published.Order(), endpoint.Delivered.Order());
        Assert.All(endpoint.BatchSizes, size => Assert.InRange(size, 1, 3));
        Assert.Equal(DeliveryStatus.Delivered, await StatusAsync(f, delivery, published[0]));
    }

    [Fact]
    public async Task A_failing_endpoint_is_retried_with_back_off_until_it_recovers_and_loses_nothing()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var endpoint = new ScriptedEndpoint { FailFirst = 4 };
        await using var delivery = await StartAsync(f, endpoint, maxMessageCount: 100);
        var published = await PublishAsync(f, 5);

        await endpoint.WaitForAsync(published.Count);
        Assert.True(endpoint.Attempts >= 5);
        Assert.Equal(published.Order(), endpoint.Delivered.Order());
    }

    [Fact]
    public async Task Messages_rejected_in_a_207_are_offered_again_and_the_rest_are_not_resent()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var endpoint = new ScriptedEndpoint { RejectTimes = 1 };
        await using var delivery = await StartAsync(f, endpoint, maxMessageCount: 100);
        var published = await PublishAsync(f, 4);
        endpoint.RejectOnce(published[1]);

        await endpoint.WaitForAsync(published.Count);
        Assert.Equal(published.Order(), endpoint.Delivered.Order());
        Assert.Equal(published.Count, endpoint.Delivered.Count); // none taken twice
    }

    [Fact]
    public async Task A_message_rejected_every_time_is_set_aside_as_retries_exhausted_and_the_channel_moves_on()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var endpoint = new ScriptedEndpoint();
        await using var delivery = await StartAsync(f, endpoint, maxMessageCount: 100);
        var published = await PublishAsync(f, 3);
        endpoint.AlwaysReject(published[0]);

        await endpoint.WaitForAsync(2);
        await WaitUntilAsync(() => delivery.StatusOf(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021", published[0]) == DeliveryStatus.RetriesExhausted);
        Assert.DoesNotContain(published[0], endpoint.Delivered);
    }

    private static async Task<WebhookDelivery> StartAsync(BrokerFixture f, ScriptedEndpoint endpoint, int maxMessageCount)
    {
        await f.Backbone.Webhooks.SetAsync(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021",
            new WebhookConfig(new Uri("https://127.0.0.1:1/hook"), maxMessageCount, 0));
        var delivery = new WebhookDelivery(f.Backbone.Subscription, f.Backbone.Webhooks, endpoint, Fast, NullLogger.Instance);
        delivery.Start();
        return delivery;
    }

    private static async Task<List<string>> PublishAsync(BrokerFixture f, int count)
    {
        var sender = f.SenderOf(0).DipId;
        var numbers = new List<long>();
        for (long n = 0; numbers.Count < count; n++)
        {
            if (f.SenderOf(n).DipId == sender)
            {
                numbers.Add(n);
            }
        }

        var result = await f.Backbone.Publisher.PublishAsync(f.SenderOf(0), "IF-021", f.Batch([.. numbers]));
        Assert.Equal(201, result.StatusCode);
        return [.. result.Messages.Select(m => m.TransactionId!)];
    }

    private static async Task<DeliveryStatus?> StatusAsync(BrokerFixture f, WebhookDelivery delivery, string transactionId)
    {
        var state = await f.Backbone.DeliveryStateAsync(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021", transactionId, CancellationToken.None);
        return state is { Acknowledged: true } ? DeliveryStatus.Delivered : delivery.StatusOf(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021", transactionId);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    /// <summary>An endpoint whose answers the test scripts: fail the first N requests, reject chosen messages.</summary>
    private sealed class ScriptedEndpoint : IWebhookTransport
    {
        private readonly ConcurrentDictionary<string, int> _rejectLeft = new();
        private readonly ConcurrentBag<string> _always = [];
        private int _attempts;

        public int FailFirst { get; init; }

        public int RejectTimes { get; init; }

        public int Attempts => _attempts;

        public List<string> Delivered { get; } = [];

        public List<int> BatchSizes { get; } = [];

        public void RejectOnce(string transactionId) => _rejectLeft[transactionId] = RejectTimes;

        public void AlwaysReject(string transactionId) => _always.Add(transactionId);

        public Task<WebhookResponse> SendAsync(WebhookConfig config, IReadOnlyList<Halfhour.Broker.Delivery.Delivery> messages, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _attempts) <= FailFirst)
            {
                return Task.FromResult(new WebhookResponse(WebhookOutcome.RetryLater, new HashSet<string>(), "503 from the script"));
            }

            var rejected = new HashSet<string>();
            lock (Delivered)
            {
                BatchSizes.Add(messages.Count);
                foreach (var message in messages)
                {
                    if (_always.Contains(message.TransactionId) ||
                        (_rejectLeft.TryGetValue(message.TransactionId, out var left) && left > 0 && _rejectLeft.TryUpdate(message.TransactionId, left - 1, left)))
                    {
                        rejected.Add(message.TransactionId);
                    }
                    else
                    {
                        Delivered.Add(message.TransactionId);
                    }
                }
            }

            return Task.FromResult(new WebhookResponse(rejected.Count == 0 ? WebhookOutcome.AllAccepted : WebhookOutcome.PartlyAccepted, rejected, "scripted"));
        }

        public async Task WaitForAsync(int count)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            while (true)
            {
                lock (Delivered)
                {
                    if (Delivered.Count >= count)
                    {
                        return;
                    }
                }

                await Task.Delay(20, timeout.Token);
            }
        }
    }
}

public sealed class WebhookDeliveryTestsOnEmbedded() : WebhookDeliveryTests(EngineKind.Embedded);

public sealed class WebhookDeliveryTestsOnJetStream() : WebhookDeliveryTests(EngineKind.JetStream);
