using Halfhour.Engines.Nats.Local;

namespace Halfhour.Engines.Nats.Tests.Servers;

/// <summary>
/// One single-node server for every test of the process that needs just a JetStream to talk to: each
/// store gets its own stream and subject prefix, so tests share the server without seeing each other,
/// and the suite pays for one server start, not one per test.
/// </summary>
public static class SharedNatsServer
{
    private static readonly Lazy<Task<NatsServerProcess>> Server = new(StartAsync);

    /// <summary>The running server.</summary>
    public static Task<NatsServerProcess> GetAsync() => Server.Value;

    /// <summary>Options for a store of its own on the shared server (R1: one node).</summary>
    public static async Task<JetStreamStoreOptions> NewStoreOptionsAsync()
    {
        var server = await GetAsync();
        var id = Guid.NewGuid().ToString("N")[..10];
        return new JetStreamStoreOptions { Urls = [server.Url], Replicas = 1, StreamPrefix = "T" + id, SubjectPrefix = "t" + id };
    }

    private static async Task<NatsServerProcess> StartAsync()
    {
        var server = await NatsServerProcess.StartSingleAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return server;
    }
}
