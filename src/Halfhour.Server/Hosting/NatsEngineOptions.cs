using Halfhour.Engines.Nats;

namespace Halfhour.Server.Hosting;

/// <summary>The event-store engine the backbone runs on (<c>Halfhour:Backbone:Engine</c>).</summary>
public enum BackboneEngine
{
    /// <summary>The embedded log under the data directory: one node, no server to install.</summary>
    Embedded,

    /// <summary>A NATS JetStream cluster: replicated streams, and any number of stateless broker nodes in front.</summary>
    Nats,
}

/// <summary>How the server reaches NATS JetStream when <see cref="BackboneHostOptions.Engine"/> is <see cref="BackboneEngine.Nats"/>, bound from <c>Halfhour:Backbone:Nats</c>.</summary>
public sealed record NatsEngineOptions
{
    /// <summary>Comma-separated server URLs (<c>nats://a:4222,nats://b:4222</c>, <c>tls://…</c>); any node will do, the client learns the rest.</summary>
    public string Urls { get; init; } = "nats://127.0.0.1:4222";

    /// <summary>Copies of every stream and bucket: 3 in a cluster (a quorum survives one node down), 1 on a single server.</summary>
    public int Replicas { get; init; } = 3;

    /// <summary>A NATS credentials file (JWT + NKey seed), or null.</summary>
    public string? CredentialsFile { get; init; }

    /// <summary>A user name for user/password authentication, or null.</summary>
    public string? Username { get; init; }

    /// <summary>The password that goes with <see cref="Username"/>.</summary>
    public string? Password { get; init; }

    /// <summary>The CA bundle (PEM) that signs the NATS servers' certificates; setting it (or a client certificate) requires TLS.</summary>
    public string? TlsCaFile { get; init; }

    /// <summary>The client certificate (PEM) for mutual TLS to NATS, or null.</summary>
    public string? TlsCertFile { get; init; }

    /// <summary>The client certificate's private key (PEM).</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>Prefix of stream and bucket names: distinct per deployment sharing one NATS cluster; every node of a deployment uses the same.</summary>
    public string StreamPrefix { get; init; } = "HH";

    /// <summary>First token of every subject; distinct per deployment sharing one NATS cluster.</summary>
    public string SubjectPrefix { get; init; } = "hh";

    /// <summary>How long an append keeps trying (and creating a stream may take). Ten seconds: rides out a leader election.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one JetStream request waits for its answer before it is sent again (reads, publishes) or reported
    /// (key-value writes). Two seconds: a request to a stream whose leader just died is never answered.
    /// </summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a recipient channel's delivery lease lives without renewal: the longest a dead node's deliveries wait
    /// before another node takes them over. Six seconds: renewed every two, so two lost renewals (a leader election)
    /// do not move the work, and a real death is noticed within seconds.
    /// </summary>
    public TimeSpan LeaseTimeToLive { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>This node's name among the broker nodes; by default the host name and process ID, unique per running process.</summary>
    public string? NodeId { get; init; }

    /// <summary>The store options these describe.</summary>
    public JetStreamStoreOptions ToStoreOptions() => new()
    {
        Urls = [.. Urls.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
        Replicas = Replicas,
        CredentialsFile = CredentialsFile,
        Username = Username,
        Password = Password,
        TlsCaFile = TlsCaFile,
        TlsCertFile = TlsCertFile,
        TlsKeyFile = TlsKeyFile,
        StreamPrefix = StreamPrefix,
        SubjectPrefix = SubjectPrefix,
        RequestTimeout = RequestTimeout,
        AttemptTimeout = AttemptTimeout,
    };

    /// <summary>The node ID to use: <see cref="NodeId"/>, or host name and process ID.</summary>
    public string ResolveNodeId() => NodeId ?? $"{System.Environment.MachineName}-{System.Environment.ProcessId}";
}
