using Halfhour.Engines.Nats.Local;

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

    /// <inheritdoc />
    public async Task InitializeAsync() => Cluster = await NatsCluster.StartAsync();

    /// <inheritdoc />
    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
