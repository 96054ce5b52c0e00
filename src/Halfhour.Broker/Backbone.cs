using System.Collections.Concurrent;
using Halfhour.Broker.Audit;
using Halfhour.Broker.Cluster;
using Halfhour.Broker.Deduplication;
using Halfhour.Broker.Delivery;
using Halfhour.Broker.Messages;
using Halfhour.Broker.Publishing;
using Halfhour.Broker.Replay;
using Halfhour.Broker.Routing;
using Halfhour.Broker.StatusMessages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Consumption;
using Halfhour.Market.Entitlement;
using Halfhour.Market.Participants;
using Halfhour.Market.Validation;
using Microsoft.Extensions.Logging;

namespace Halfhour.Broker;

/// <summary>Options of the backbone.</summary>
public sealed record BackboneOptions
{
    /// <summary>Partitions per interface topic (order is kept per MPAN within one).</summary>
    public int PartitionsPerInterface { get; init; } = TopicLayout.DefaultPartitions;

    /// <summary>
    /// How long a sender unique reference is remembered: a retry within it is answered with the original
    /// transaction ID. Two days covers a sender retrying through a whole outage and the next day.
    /// </summary>
    public TimeSpan DeduplicationWindow { get; init; } = TimeSpan.FromDays(2);

    /// <summary>How long a pulled message stays invisible before it is handed out again when not acknowledged.</summary>
    public TimeSpan VisibilityTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The clock.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>The interface catalogue; the DIP specification's by default.</summary>
    public InterfaceCatalogue? Catalogue { get; init; }

    /// <summary>
    /// Set when other broker nodes share the store (the NATS engine): sender references are claimed cluster-wide,
    /// and this node follows what the others append (new topics, registrations, webhook configurations). Null: one node.
    /// </summary>
    public BrokerCluster? Cluster { get; init; }
}

/// <summary>
/// The backbone: publishing, fan-out to inboxes, subscriptions, replay, delivery status and audit, over
/// one <see cref="IEventStore"/>. The server is a thin HTTP face on it.
/// </summary>
public sealed class Backbone : IAsyncDisposable
{
    private readonly IEventStore _store;
    private readonly ILogger _logger;
    private readonly ILogger _subscriptionLogger;
    private readonly ConcurrentDictionary<(MarketEnvironment, string, string), RecipientSubscription> _subscriptions = new();
    private readonly CancellationTokenSource _following = new();
    private readonly List<Task> _followers = [];
    private int _disposed;

    // Every recipient of a message receives the same stamped bytes: made once, shared by all subscriptions.
    private readonly StampedMessageCache _stamped = new();

    /// <summary>The stamped copies shared by every recipient's subscription (for tests).</summary>
    internal StampedMessageCache StampedMessages => _stamped;

    private Backbone(IEventStore store, BackboneOptions options, IParticipantDirectory directory, ILoggerFactory loggers)
    {
        var catalogue = options.Catalogue ?? InterfaceCatalogue.Specification;
        var validator = new MessageValidator(catalogue);
        validator.UseFor("IF-021", new ConsumptionValidator());
        _store = store;
        _logger = loggers.CreateLogger<Backbone>();
        _subscriptionLogger = loggers.CreateLogger<RecipientSubscription>();
        Options = options;
        Catalogue = catalogue;
        Layout = new TopicLayout(options.PartitionsPerInterface);
        References = new SenderReferenceIndex(options.DeduplicationWindow, options.Time);
        Audit = new AuditTrail(store);
        Webhooks = new WebhookConfigStore(store);
        Indexer = new InboxIndexer(store, loggers.CreateLogger<InboxIndexer>());
        Appointments = new AppointmentKeeper(directory, options.Time);
        ISenderReferences references = options.Cluster is { } cluster ? new SharedSenderReferences(References, cluster.Claims, options.Time) : References;
        Publisher = new PublishPipeline(store, Layout, catalogue, validator, new MessageGate(catalogue, directory), Appointments, references, Audit, options.Time,
            loggers.CreateLogger<PublishPipeline>());
        Publisher.Accepted += OnAccepted;
        Publisher.Delivery = (_stamped, new MessageStamper(catalogue));
        Publisher.Handoff = Indexer.Handoff;
        Replays = new ReplayService(store, catalogue);
        StatusMessages = new StatusMessagePublisher(store, Layout, Replays, Indexer, Audit, options.Time, references);
    }

    /// <summary>The options it runs with.</summary>
    public BackboneOptions Options { get; }

    /// <summary>The interface catalogue.</summary>
    public InterfaceCatalogue Catalogue { get; }

    /// <summary>Where topics live.</summary>
    public TopicLayout Layout { get; }

    /// <summary>The publish pipeline.</summary>
    public PublishPipeline Publisher { get; }

    /// <summary>The appointment books and the routing that reads them.</summary>
    public AppointmentKeeper Appointments { get; }

    /// <summary>This node's de-duplication index (in a cluster, the local cache in front of the shared claims).</summary>
    public SenderReferenceIndex References { get; }

    /// <summary>The audit trail.</summary>
    public AuditTrail Audit { get; }

    /// <summary>The webhook configurations.</summary>
    public WebhookConfigStore Webhooks { get; }

    /// <summary>The fan-out of accepted messages to inboxes.</summary>
    public InboxIndexer Indexer { get; }

    /// <summary>Replay of what was routed to a recipient.</summary>
    public ReplayService Replays { get; }

    /// <summary>Status messages from recipients to the senders of the messages they received.</summary>
    public StatusMessagePublisher StatusMessages { get; }

    /// <summary>
    /// Opens the backbone over <paramref name="store"/>: restores the de-duplication window from the stored
    /// events, loads webhook configurations, and resumes fanning out every interface topic.
    /// </summary>
    public static async Task<Backbone> StartAsync(IEventStore store, BackboneOptions options, IParticipantDirectory directory, ILoggerFactory loggers,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var backbone = new Backbone(store, options, directory, loggers);
        await backbone.Audit.EnsureAsync(cancellationToken);
        await backbone.Appointments.RebuildAsync(store, options.PartitionsPerInterface, cancellationToken);
        await backbone.Webhooks.LoadAsync(cancellationToken);
        await backbone.ResumeAsync(cancellationToken);
        if (options.Cluster is { } cluster)
        {
            backbone.FollowCluster(cluster);
        }

        return backbone;
    }

    /// <summary>The subscription of a recipient to one channel (created on first use).</summary>
    public RecipientSubscription Subscription(MarketEnvironment environment, string dipId, string interfaceId)
        => _subscriptions.GetOrAdd((environment, dipId, interfaceId),
            key => new RecipientSubscription(_store, Catalogue, key.Item1, key.Item2, key.Item3, Options.VisibilityTimeout, Options.Time, _stamped, _subscriptionLogger));

    /// <summary>What this node's inbox readers met of renumbered or dropped records since it started (<see cref="InboxReadFigures"/>).</summary>
    public InboxReadFigures InboxReading() => InboxReadFigures.Of(_subscriptions.Values);

    /// <summary>
    /// The subscription when this node may serve the recipient's pulls: always on one node; in a cluster, when this
    /// node holds (or now takes) the channel's delivery lease (<see cref="DeliveryLeases"/>), so one node at a time
    /// hands its messages out and records its acknowledgements. A lease newly taken reads the durable cursor again,
    /// so what the previous holder handed out and did not see acknowledged is handed out again. Null when another
    /// node serves the channel now (the caller is told to retry; a load balancer keeps a participant on one node).
    /// </summary>
    public async ValueTask<RecipientSubscription?> ServedSubscriptionAsync(MarketEnvironment environment, string dipId, string interfaceId, CancellationToken cancellationToken)
    {
        var subscription = Subscription(environment, dipId, interfaceId);
        if (Options.Cluster is not { } cluster)
        {
            return subscription;
        }

        var work = DeliveryLeases.NameOf(environment, dipId, interfaceId);
        if (cluster.Leases.Holds(work))
        {
            return subscription;
        }

        if (!await cluster.Leases.TryAcquireAsync(work, cancellationToken))
        {
            return null;
        }

        await subscription.ReloadAsync(cancellationToken);
        return subscription;
    }

    /// <summary>
    /// The delivery state of a message for a recipient: null when the transaction ID is not one of a
    /// message routed to the recipient on that channel.
    /// </summary>
    public async Task<DeliveryState?> DeliveryStateAsync(MarketEnvironment environment, string recipientDipId, string interfaceId, string transactionId, CancellationToken cancellationToken)
    {
        if (!TransactionId.TryParse(transactionId, out var idInterface, out var partition, out var offset) || idInterface != interfaceId)
        {
            return null;
        }

        var message = await Replays.ReadAsync(environment, interfaceId, partition, offset, cancellationToken);
        if (message is null || !message.IsRoutedTo(recipientDipId))
        {
            return null;
        }

        var acknowledged = await Subscription(environment, recipientDipId, interfaceId).IsAcknowledgedAsync(interfaceId, partition, offset, cancellationToken);
        return new DeliveryState(message, acknowledged);
    }

    /// <inheritdoc />
    /// <remarks>Idempotent: a host stopping on SIGTERM and then disposed stops it twice.</remarks>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _following.CancelAsync();
        try
        {
            await Task.WhenAll(_followers);
        }
        catch (OperationCanceledException)
        {
        }

        _following.Dispose();
        await Indexer.DisposeAsync();
        foreach (var subscription in _subscriptions.Values)
        {
            subscription.Dispose();
        }

        await _store.DisposeAsync();
    }

    private void OnAccepted(StoredMessage message, MessageFacts facts)
    {
        // The gate has checked that the environment tag is the caller's.
        if (Enum.TryParse<MarketEnvironment>(facts.EnvironmentTag, out var environment))
        {
            Appointments.Apply(environment, message);
            Indexer.Follow(environment, message.InterfaceId, Layout.PartitionsPerInterface);
        }
    }

    private async Task ResumeAsync(CancellationToken cancellationToken)
    {
        var restored = 0;
        foreach (var topic in await _store.ListTopicsAsync(cancellationToken))
        {
            if (!TryParseInterfaceTopic(topic, out var environment, out var interfaceId))
            {
                continue;
            }

            Indexer.Follow(environment, interfaceId, Layout.PartitionsPerInterface);
            if (Options.Cluster is not null)
            {
                Appointments.Follow(_store, environment, interfaceId, Layout.PartitionsPerInterface, FollowFailed, _following.Token);
            }

            // Status messages' references are a namespace of their own: a status and a message may share one.
            restored += await RestoreReferencesAsync(topic,
                interfaceId == TopicLayout.StatusChannel ? StatusMessagePublisher.ReferenceNamespace(environment) : environment.ToString(), cancellationToken);
        }

        _logger.LogInformation("Backbone resumed: {References} sender references restored for de-duplication", restored);
    }

    /// <summary>
    /// Keeps this node current with what other nodes append: their webhook configurations, and every interface topic
    /// they create (indexed into inboxes here too, and followed for registrations). Inbox pointers written by several
    /// nodes' indexers are skipped as repeats by the reader, so indexing on every node costs writes, not correctness,
    /// and a dead node's topics keep being indexed.
    /// </summary>
    private void FollowCluster(BrokerCluster cluster)
    {
        _followers.Add(Webhooks.FollowAsync(FollowFailed, _following.Token));
        _followers.Add(Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(cluster.TopicDiscoveryInterval, Options.Time);
            try
            {
                while (await timer.WaitForNextTickAsync(_following.Token))
                {
                    try
                    {
                        foreach (var topic in await _store.ListTopicsAsync(_following.Token))
                        {
                            if (TryParseInterfaceTopic(topic, out var environment, out var interfaceId))
                            {
                                Indexer.Follow(environment, interfaceId, Layout.PartitionsPerInterface);
                                Appointments.Follow(_store, environment, interfaceId, Layout.PartitionsPerInterface, FollowFailed, _following.Token);
                            }
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        FollowFailed(ex);
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        }));
    }

    private void FollowFailed(Exception ex) => _logger.LogWarning("Following the shared store failed ({Error}: {Message}); retrying", ex.GetType().Name, ex.Message);

    /// <summary>
    /// Reads the de-duplication window's worth of a topic back into the reference index, its partitions side by side
    /// (each stored message is read for its reference only: at the market's volume the window holds tens of millions).
    /// </summary>
    private async Task<int> RestoreReferencesAsync(string topic, string referenceNamespace, CancellationToken cancellationToken)
    {
        var since = Options.Time.GetUtcNow() - Options.DeduplicationWindow;
        var space = System.Text.Encoding.UTF8.GetBytes(referenceNamespace);
        var restored = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, Layout.PartitionsPerInterface),
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, async (partition, ct) =>
            {
                await _store.ScanAsync(topic, partition, await _store.OffsetAtAsync(topic, partition, since, ct), stored =>
                {
                    var reference = StoredMessage.ReadReference(stored.Value.Span);
                    if (reference.SenderUniqueReference.IsEmpty)
                    {
                        return; // a status message sent without a reference
                    }

                    References.Restore(SenderReferenceIndex.KeyOf(space, reference.SenderDipId, reference.SenderUniqueReference), reference, partition, stored.Offset);
                    Interlocked.Increment(ref restored);
                }, ct);
            });

        return restored;
    }

    private static bool TryParseInterfaceTopic(string topic, out MarketEnvironment environment, out string interfaceId)
    {
        interfaceId = "";
        var dot = topic.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0 || !Enum.TryParse(topic.AsSpan(0, dot), out environment) || topic.AsSpan(dot + 1).Contains('.'))
        {
            environment = default;
            return false;
        }

        interfaceId = topic[(dot + 1)..];
        return interfaceId.StartsWith("IF-", StringComparison.Ordinal) || interfaceId.StartsWith("REP-", StringComparison.Ordinal) ||
               interfaceId == TopicLayout.StatusChannel;
    }
}

/// <summary>A message's delivery state for one recipient.</summary>
/// <param name="Message">The message as stored.</param>
/// <param name="Acknowledged">True when the recipient has taken it (webhook 2xx, or pull acknowledgement).</param>
public sealed record DeliveryState(StoredMessage Message, bool Acknowledged);
