using Halfhour.Engines.Nats;
using NATS.Client.Core;

namespace Halfhour.Server.Tests.Cluster;

/// <summary>
/// Counts the JetStream API requests the broker nodes send while a test runs, as any client of their account sees them: a
/// core subscription to the API subjects gets a copy of every request (the servers answer them as before). Consumer
/// creates are what loads nats-server 2.9's meta layer (each is proposed through the meta leader); message gets are
/// answered by a stream's leader alone. Requests sent while this counter's own server is down and it reconnects are missed.
/// </summary>
public sealed class JetStreamApiCount : IAsyncDisposable
{
    private readonly NatsConnection _connection;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _counting = [];
    private long _consumerCreates;
    private long _inboxConsumerCreates;
    private long _messageGets;

    private JetStreamApiCount(NatsConnection connection) => _connection = connection;

    /// <summary>Consumer creates seen (ephemeral and durable, named or not).</summary>
    public long ConsumerCreates => Interlocked.Read(ref _consumerCreates);

    /// <summary>Consumer creates seen on inbox streams (their subject names the stream: <c>…CREATE.HH_DEV_inbox_…</c>).</summary>
    public long InboxConsumerCreates => Interlocked.Read(ref _inboxConsumerCreates);

    /// <summary>Stream message gets seen (<c>$JS.API.STREAM.MSG.GET</c>).</summary>
    public long MessageGets => Interlocked.Read(ref _messageGets);

    /// <summary>Starts counting on a connection to any of <paramref name="urls"/>.</summary>
    public static async Task<JetStreamApiCount> StartAsync(IEnumerable<string> urls)
    {
        var connection = new NatsConnection(new JetStreamStoreOptions { Urls = [.. urls] }.ToNatsOpts());
        await connection.ConnectAsync();
        var count = new JetStreamApiCount(connection);
        count.Count("$JS.API.CONSUMER.CREATE.>", count.ConsumerCreated);
        count.Count("$JS.API.CONSUMER.DURABLE.CREATE.>", count.ConsumerCreated);
        count.Count("$JS.API.STREAM.MSG.GET.>", _ => Interlocked.Increment(ref count._messageGets));
        await connection.PingAsync(); // the subscriptions are registered before the counting starts
        return count;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_counting);
        }
        catch (OperationCanceledException)
        {
        }

        await _connection.DisposeAsync();
        _stop.Dispose();
    }

    private void ConsumerCreated(string subject)
    {
        Interlocked.Increment(ref _consumerCreates);
        if (subject.Contains("_inbox_", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _inboxConsumerCreates);
        }
    }

    private void Count(string subject, Action<string> seen) => _counting.Add(Task.Run(async () =>
    {
        await foreach (var message in _connection.SubscribeAsync<byte[]>(subject, cancellationToken: _stop.Token))
        {
            seen(message.Subject);
        }
    }));
}
