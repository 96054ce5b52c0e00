using Halfhour.Broker;
using Halfhour.Broker.Cluster;
using Halfhour.Broker.Delivery;
using Halfhour.Broker.Replay;
using Halfhour.Broker.Storage;
using Halfhour.Engines.Nats;
using NATS.Client.Core;
using Halfhour.Server.Participants;
using Halfhour.Server.Storage;

namespace Halfhour.Server.Hosting;

/// <summary>
/// Runs the backbone inside the server: on start opens the event store — the embedded log at <c>DATA/store</c>
/// (encrypted at rest, see <see cref="StoreKeyring"/>), or NATS JetStream (<see cref="BackboneEngine.Nats"/>), where
/// this node is one of any number sharing the streams and coordinating through key-value buckets — starts the
/// <see cref="Backbone"/> over it and the webhook delivery; on stop stops delivery first (releasing its leases to
/// the other nodes), then disposes the backbone and with it the store. Endpoints wait for <see cref="WhenReady"/>, so a
/// request that arrives during start-up is served once the store has recovered rather than refused.
/// Failure semantics: a store that cannot be opened fails the server's start (nothing listens over a broken store).
/// </summary>
public sealed partial class BackboneHost(HalfhourServerOptions options, ParticipantRegistry registry, IServiceProvider services, TimeProvider time,
    ILoggerFactory loggers) : IHostedService
{
    /// <summary>The store's folder under the data directory.</summary>
    public const string StoreFolder = "store";

    private readonly ILogger _log = loggers.CreateLogger<BackboneHost>();
    private readonly TaskCompletionSource<Backbone> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebhookDelivery? _delivery;
    private RequeueRunner? _requeues;
    private BrokerCluster? _cluster;

    /// <summary>Completes with the running backbone, or faults when it could not start.</summary>
    public Task<Backbone> WhenReady => _ready.Task;

    /// <summary>The running backbone, or null while it starts (or when it failed to).</summary>
    public Backbone? Current => _ready.Task.IsCompletedSuccessfully ? _ready.Task.Result : null;

    /// <summary>The webhook pusher, once the backbone runs.</summary>
    public WebhookDelivery? Delivery => Volatile.Read(ref _delivery);

    /// <summary>The requeue runner, once the backbone runs (null without a webhook transport).</summary>
    public RequeueRunner? Requeues => Volatile.Read(ref _requeues);

    /// <summary>The backbone, waiting for it to start.</summary>
    public Task<Backbone> GetAsync(CancellationToken cancellationToken) => _ready.Task.WaitAsync(cancellationToken);

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Backbone? backbone = null;
        try
        {
            var (store, where) = await OpenStoreAsync(cancellationToken);
            var settings = new BackboneOptions { VisibilityTimeout = options.Backbone.VisibilityTimeout, Time = time, Cluster = _cluster };
            try
            {
                backbone = await Backbone.StartAsync(store, settings, new RegistryDirectory(registry), loggers, cancellationToken);
            }
            catch
            {
                await store.DisposeAsync();
                throw;
            }

            if (services.GetService<IWebhookTransport>() is { } transport)
            {
                var delivery = new WebhookDelivery(backbone.Subscription, backbone.Webhooks, transport, new WebhookDeliveryOptions
            {
                    InitialBackoff = options.Backbone.WebhookInitialBackoff,
                    MaxBackoff = options.Backbone.WebhookMaxBackoff,
                    Leases = _cluster?.Leases,
                }, loggers.CreateLogger<WebhookDelivery>());
                delivery.Start();
                Volatile.Write(ref _delivery, delivery);
                Volatile.Write(ref _requeues, new RequeueRunner(backbone.Replays, backbone.Webhooks, transport, new RequeueOptions
                {
                    InitialBackoff = options.Backbone.WebhookInitialBackoff,
                }, time, loggers.CreateLogger<RequeueRunner>()));
            }

            LogStarted(_log, where);
            _ready.SetResult(backbone);
        }
        catch (Exception e)
        {
            if (backbone is not null) await backbone.DisposeAsync();
            if (Interlocked.Exchange(ref _cluster, null) is { } cluster) await cluster.Leases.DisposeAsync();
            _ready.TrySetException(e);
            throw;
        }
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _requeues, null) is { } requeues) await requeues.DisposeAsync();
        if (Interlocked.Exchange(ref _delivery, null) is { } delivery) await delivery.DisposeAsync();
        if (Interlocked.Exchange(ref _cluster, null) is { } cluster) await cluster.Leases.DisposeAsync();
        if (Current is { } backbone) await backbone.DisposeAsync();
    }

    /// <summary>Opens the configured engine; for NATS also the cluster coordination (<see cref="_cluster"/>). Returns the store and where it is, for the log.</summary>
    private async Task<(IEventStore Store, string Where)> OpenStoreAsync(CancellationToken cancellationToken)
    {
        if (options.Backbone.Engine == BackboneEngine.Nats)
        {
            var nats = options.Backbone.Nats;
            var storeOptions = nats.ToStoreOptions() with { LoggerFactory = loggers };
            if (storeOptions.Urls.Count == 0)
            {
                throw new InvalidOperationException("Halfhour:Backbone:Nats:Urls is empty; give the NATS servers as nats://host:port[,nats://host:port…] (--nats-url).");
            }

            JetStreamEventStore jetStream;
            try
            {
                jetStream = await JetStreamEventStore.ConnectAsync(storeOptions, cancellationToken);
            }
            catch (NatsException e)
            {
                throw new IOException($"Could not reach NATS JetStream at {nats.Urls}: {e.Message}", e);
            }

            try
            {
                _cluster = await jetStream.OpenClusterAsync(nats.ResolveNodeId(), new BackboneOptions().DeduplicationWindow, nats.LeaseTimeToLive, time, cancellationToken);
            }
            catch
            {
                await jetStream.DisposeAsync();
                throw;
            }

            return (jetStream, $"NATS JetStream at {nats.Urls} (R{nats.Replicas}, node {nats.ResolveNodeId()})");
        }

        var (keyring, source, path) = StoreKeyring.Resolve(options.DataDirectory, options.KeyFile);
        LogKeys(source, path);
        var directory = Path.GetFullPath(Path.Combine(options.DataDirectory, StoreFolder));
        return (EmbeddedEventStore.Open(directory, keyring), directory);
    }

    private void LogKeys(StoreKeyring.Source source, string? path)
    {
        switch (source)
        {
            case StoreKeyring.Source.Generated:
            case StoreKeyring.Source.DataDirectory:
                LogLocalKeys(_log, path!, source == StoreKeyring.Source.Generated ? "created" : "read");
                break;
            default:
                LogSuppliedKeys(_log, source == StoreKeyring.Source.Environment ? "HALFHOUR_LOG_KEYS" : path!);
                break;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event store encrypted with keys {Verb} at {Path} inside the data directory: fine for a sandbox, "
        + "but production supplies keys from its own secret store (Halfhour:KeyFile or HALFHOUR_LOG_KEYS)")]
    private static partial void LogLocalKeys(ILogger logger, string path, string verb);

    [LoggerMessage(Level = LogLevel.Information, Message = "Event store encrypted with keys from {Source}")]
    private static partial void LogSuppliedKeys(ILogger logger, string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backbone running over {Store}")]
    private static partial void LogStarted(ILogger logger, string store);
}
