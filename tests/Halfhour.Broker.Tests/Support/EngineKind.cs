using Halfhour.Broker.Storage;
using Halfhour.Engines.Nats;
using Halfhour.Engines.Nats.Tests.Servers;

namespace Halfhour.Broker.Tests.Support;

/// <summary>The engines the behavioural suite runs on.</summary>
public enum EngineKind
{
    /// <summary>The embedded log in a temporary directory.</summary>
    Embedded,

    /// <summary>NATS JetStream on a real single-node nats-server (R1), a stream prefix of its own.</summary>
    JetStream,
}

/// <summary>Where one store of a test lives, so it can be opened again after a restart.</summary>
public sealed class EngineHome : IAsyncDisposable
{
    private readonly JetStreamStoreOptions? _jetStream;

    private EngineHome(EngineKind kind, string directory, JetStreamStoreOptions? jetStream)
    {
        Kind = kind;
        Directory = directory;
        _jetStream = jetStream;
    }

    /// <summary>The engine.</summary>
    public EngineKind Kind { get; }

    /// <summary>The temporary directory of an embedded store.</summary>
    public string Directory { get; }

    /// <summary>A new, empty home for a store of <paramref name="kind"/>.</summary>
    public static async Task<EngineHome> CreateAsync(EngineKind kind)
    {
        var directory = Path.Combine(Path.GetTempPath(), "halfhour-broker-" + Guid.NewGuid().ToString("N"));
        return new EngineHome(kind, directory, kind == EngineKind.JetStream ? await SharedNatsServer.NewStoreOptionsAsync() : null);
    }

    /// <summary>Opens the store (again, after a restart: same directory or same streams).</summary>
    public async Task<IEventStore> OpenAsync() => Kind switch
    {
        EngineKind.Embedded => EmbeddedEventStore.Open(Directory),
        _ => await JetStreamEventStore.ConnectAsync(_jetStream!),
    };

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }

        return ValueTask.CompletedTask;
    }
}
