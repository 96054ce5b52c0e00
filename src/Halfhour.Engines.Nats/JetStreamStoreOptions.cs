using System.Threading.Channels;
using NATS.Client.Core;

namespace Halfhour.Engines.Nats;

/// <summary>
/// How <see cref="JetStreamEventStore"/> reaches its cluster and lays out its streams. Init-only, like
/// nats.net's own <see cref="NatsOpts"/>: one value describes one deployment.
/// </summary>
public sealed record JetStreamStoreOptions
{
    /// <summary>The servers to connect to (any node of the cluster will do; the client learns the rest).</summary>
    public IReadOnlyList<string> Urls { get; init; } = ["nats://127.0.0.1:4222"];

    /// <summary>A NATS credentials file (JWT + NKey seed), or null.</summary>
    public string? CredentialsFile { get; init; }

    /// <summary>A user name for user/password authentication, or null.</summary>
    public string? Username { get; init; }

    /// <summary>The password that goes with <see cref="Username"/>.</summary>
    public string? Password { get; init; }

    /// <summary>The CA bundle that signs the servers' certificates; setting it requires TLS.</summary>
    public string? TlsCaFile { get; init; }

    /// <summary>The client certificate (PEM) for mutual TLS, or null.</summary>
    public string? TlsCertFile { get; init; }

    /// <summary>The client certificate's private key (PEM).</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>
    /// Copies of every stream and of the cursor bucket. Three by default: a Raft group of three keeps
    /// accepting appends with one node down. One for a single-node server (development, tests).
    /// </summary>
    public int Replicas { get; init; } = 3;

    /// <summary>
    /// Prefix of every stream name (topic <c>DEV.IF-021</c> becomes stream <c>HH_DEV_IF-021</c>) and of the
    /// cursor bucket, so several deployments (or test runs) can share one cluster.
    /// </summary>
    public string StreamPrefix { get; init; } = "HH";

    /// <summary>First token of every subject: partition 3 of <c>DEV.IF-021</c> is <c>hh.DEV.IF-021.3</c>.</summary>
    public string SubjectPrefix { get; init; } = "hh";

    /// <summary>
    /// How long the server remembers an idempotency key (<c>Nats-Msg-Id</c>). Two minutes is the server's
    /// own default: it covers a retry of a group whose append failed halfway (leader change, timeout),
    /// which is the hole it exists to close; older retries are the broker's own de-duplication's job
    /// (its window is days). Longer windows cost server memory per message.
    /// </summary>
    public TimeSpan DuplicateWindow { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>A byte ceiling per topic stream (oldest records go first), or null for age-only retention.</summary>
    public long? MaxBytesPerTopic { get; init; }

    /// <summary>
    /// How long one JetStream API call or publish acknowledgement may take. Ten seconds: a Raft leader
    /// election after a node failure takes a few seconds, and an append should ride it out, not fail.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The nats.net connection options these describe.</summary>
    public NatsOpts ToNatsOpts() => NatsOpts.Default with
    {
        Url = string.Join(',', Urls),
        Name = "halfhour-broker",
        RequestTimeout = RequestTimeout,
        // nats.net drops messages when a subscription's buffer is full by default; a read of a
        // stream must never lose a record silently, so a full buffer holds the socket reader back instead.
        SubPendingChannelFullMode = BoundedChannelFullMode.Wait,
        AuthOpts = NatsAuthOpts.Default with { CredsFile = CredentialsFile, Username = Username, Password = Password },
        TlsOpts = TlsCaFile is null && TlsCertFile is null
            ? NatsTlsOpts.Default
            : NatsTlsOpts.Default with { Mode = TlsMode.Require, CaFile = TlsCaFile, CertFile = TlsCertFile, KeyFile = TlsKeyFile },
    };
}
