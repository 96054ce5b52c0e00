using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
    /// How long an append keeps trying, and how long creating or inspecting a stream may take. Ten seconds: a Raft
    /// leader election after a node failure takes a few seconds (4-9 s on nats-server 2.9), and an append should ride
    /// it out, not fail. An append does not wait this long for one answer: it sends each record again (with the same
    /// <c>Nats-Msg-Id</c>, so the server stores it once) every <see cref="AttemptTimeout"/> until it is acknowledged
    /// or this has passed.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long one request waits for its answer: a publish acknowledgement (then the record is sent again), a
    /// message get, a consumer's creation, a key-value read or write (cursors, claims, leases, shared documents).
    /// Two seconds: answers take milliseconds, even on a loaded machine well under a second, but a request that
    /// reached a stream whose leader just died, or that was in flight on a connection that dropped, is never
    /// answered; the caller's retry, sent after this rather than after <see cref="RequestTimeout"/>, reaches the new
    /// leader as soon as it is elected.
    /// </summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Where the store and the NATS client log (slow or failed JetStream calls, reconnects); nothing by default.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>The nats.net connection options these describe.</summary>
    public NatsOpts ToNatsOpts() => NatsOpts.Default with
    {
        Url = string.Join(',', Urls),
        Name = "halfhour-broker",
        // Every request's own deadline (key-value direct gets are plain requests): see AttemptTimeout.
        RequestTimeout = AttemptTimeout < RequestTimeout ? AttemptTimeout : RequestTimeout,
        LoggerFactory = LoggerFactory,
        // nats.net drops messages when a subscription's buffer is full by default; a read of a
        // stream must never lose a record silently, so a full buffer holds the socket reader back instead.
        SubPendingChannelFullMode = BoundedChannelFullMode.Wait,
        AuthOpts = NatsAuthOpts.Default with { CredsFile = CredentialsFile, Username = Username, Password = Password },
        TlsOpts = TlsCaFile is null && TlsCertFile is null
            ? NatsTlsOpts.Default
            : NatsTlsOpts.Default with { Mode = TlsMode.Require, CaFile = TlsCaFile, CertFile = TlsCertFile, KeyFile = TlsKeyFile },
    };
}
