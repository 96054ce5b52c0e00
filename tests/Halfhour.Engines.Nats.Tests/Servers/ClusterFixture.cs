using Halfhour.Engines.Nats.Local;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Halfhour.Engines.Nats.Tests.Servers;

/// <summary>One 3-node cluster shared by the tests of a class (each test uses streams of its own prefix).</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    /// <summary>The cluster.</summary>
    public NatsCluster Cluster { get; private set; } = null!;

    /// <summary>Options for a store of its own on the cluster, R3.</summary>
    public JetStreamStoreOptions NewStoreOptions()
    {
        var id = Guid.NewGuid().ToString("N")[..10];
        return new JetStreamStoreOptions
        {
            Urls = Cluster.Urls,
            Replicas = 3,
            StreamPrefix = "C" + id,
            SubjectPrefix = "c" + id,
            // Short, so a request lost with a killed node fails fast and is retried on a live one;
            // a retry of a group is safe (idempotency keys), so failing fast costs nothing.
            RequestTimeout = TimeSpan.FromSeconds(2),
        };
    }

    /// <summary>
    /// Deletes the streams (and key-value buckets) of a store made with <paramref name="options"/>, so a test that leaves a
    /// cluster to the next one leaves no raft groups behind: each would be one more election after every later leader kill
    /// (the 16th round of a soak once waited out its resume bound among some thirty). Says what it deleted, or why not.
    /// </summary>
    public async Task<string> DeleteStreamsAsync(JetStreamStoreOptions options)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await using var connection = new NatsConnection(options.ToNatsOpts());
            var js = new NatsJSContext(connection);
            var names = new List<string>();
            await foreach (var name in js.ListStreamNamesAsync(cancellationToken: timeout.Token))
            {
                if (name.StartsWith(options.StreamPrefix + "_", StringComparison.Ordinal) || name.StartsWith($"KV_{options.StreamPrefix}_", StringComparison.Ordinal))
                {
                    names.Add(name);
                }
            }

            foreach (var name in names)
            {
                await js.DeleteStreamAsync(name, timeout.Token);
            }

            return $"deleted {names.Count} streams of {options.StreamPrefix}";
        }
        catch (Exception e) when (e is NatsException or OperationCanceledException)
        {
            return $"streams of {options.StreamPrefix} not deleted: {e.Message}";
        }
    }

    /// <inheritdoc />
    public async Task InitializeAsync() => Cluster = await NatsCluster.StartAsync();

    /// <inheritdoc />
    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
