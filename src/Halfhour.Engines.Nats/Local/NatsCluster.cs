namespace Halfhour.Engines.Nats.Local;

/// <summary>A 3-node JetStream cluster on loopback: one cluster name, a server_name, config file and store per node.</summary>
public sealed class NatsCluster : IAsyncDisposable
{
    private NatsCluster(IReadOnlyList<NatsServerProcess> nodes) => Nodes = nodes;

    /// <summary>The nodes.</summary>
    public IReadOnlyList<NatsServerProcess> Nodes { get; }

    /// <summary>Every node's client URL.</summary>
    public IReadOnlyList<string> Urls => [.. Nodes.Select(n => n.Url)];

    /// <summary>Starts <paramref name="size"/> nodes routed to each other and waits until every one is healthy.</summary>
    public static async Task<NatsCluster> StartAsync(string name = "halfhour-test", int size = 3)
    {
        var ports = FreePorts.Take(size * 3);
        var nodes = new NatsServerProcess[size];
        var routes = Enumerable.Range(0, size).Select(i => ports[(i * 3) + 2]).ToArray();
        for (var i = 0; i < size; i++)
        {
            nodes[i] = NatsServerProcess.CreateClusterNode($"{name}-n{i + 1}", ports[i * 3], ports[(i * 3) + 1], routes[i]);
            nodes[i].WriteConfig(name, routes);
        }

        var cluster = new NatsCluster(nodes);
        try
        {
            // Start all before waiting: a node is healthy only once a meta leader is elected, which needs a quorum.
            foreach (var node in nodes)
            {
                await node.StartAsync(waitHealthy: false);
            }

            foreach (var node in nodes)
            {
                await node.WaitHealthyAsync();
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The node of the given server_name.</summary>
    public NatsServerProcess Node(string serverName) => Nodes.Single(n => n.Name == serverName);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }
}
