using System.Text.Json;
using System.Text.Json.Serialization;
using Halfhour.Broker.Storage;
using Halfhour.Market.Participants;

namespace Halfhour.Broker.Delivery;

/// <summary>A recipient's push configuration for one channel (the DIP's WebhookConfig).</summary>
/// <param name="CallbackUrl">Where the backbone POSTs arrays of messages.</param>
/// <param name="MaxMessageCount">At most this many messages per POST.</param>
/// <param name="MaxPayloadKilobytes">At most this many kilobytes per POST (the DIP's maxPayloadSize is in Kb).</param>
public sealed record WebhookConfig(Uri CallbackUrl, int MaxMessageCount, int MaxPayloadKilobytes);

/// <summary>
/// The webhook configurations, kept as a topic of changes (last one wins per recipient and channel) so
/// they survive restarts and live in the same store as everything else, whatever the engine.
/// </summary>
public sealed class WebhookConfigStore(IEventStore store)
{
    private const string Topic = "config.webhooks";

    private readonly IEventStore _store = store;
    private readonly Dictionary<(MarketEnvironment Environment, string DipId, string InterfaceId), WebhookConfig> _configs = [];
    private readonly Lock _lock = new();
    private long _loadedThrough;

    /// <summary>Raised after a configuration was set or removed.</summary>
    public event Action<MarketEnvironment, string, string>? Changed;

    /// <summary>Loads every stored configuration.</summary>
    public async ValueTask LoadAsync(CancellationToken cancellationToken = default)
    {
        await _store.EnsureTopicAsync(new TopicSpec(Topic, 1), cancellationToken);
        var next = (await _store.RangeAsync(Topic, 0, cancellationToken)).Start;
        await _store.ScanAsync(Topic, 0, next, stored =>
        {
            Apply(JsonSerializer.Deserialize(stored.Value.Span, WebhookJsonContext.Default.WebhookChange)!);
            next = stored.Offset + 1;
        }, cancellationToken);
        _loadedThrough = next;
    }

    /// <summary>
    /// Applies, until cancelled, the changes other broker nodes sharing the store make after <see cref="LoadAsync"/>,
    /// raising <see cref="Changed"/> for each (a change this node made is applied again, to the same effect).
    /// </summary>
    public Task FollowAsync(Action<Exception>? failed, CancellationToken cancellationToken) =>
        _store.FollowAsync(Topic, 0, _loadedThrough, stored =>
        {
            var change = JsonSerializer.Deserialize(stored.Value.Span, WebhookJsonContext.Default.WebhookChange)!;
            Apply(change);
            Changed?.Invoke(change.Environment, change.DipId, change.InterfaceId);
        }, failed, cancellationToken);

    /// <summary>The configuration of a recipient's channel, or null when it pulls.</summary>
    public WebhookConfig? Get(MarketEnvironment environment, string dipId, string interfaceId)
    {
        lock (_lock)
        {
            return _configs.GetValueOrDefault((environment, dipId, interfaceId));
        }
    }

    /// <summary>Every configuration.</summary>
    public IReadOnlyList<(MarketEnvironment Environment, string DipId, string InterfaceId, WebhookConfig Config)> All()
    {
        lock (_lock)
        {
            var all = new List<(MarketEnvironment, string, string, WebhookConfig)>(_configs.Count);
            foreach (var ((environment, dipId, interfaceId), config) in _configs)
            {
                all.Add((environment, dipId, interfaceId, config));
            }

            return all;
        }
    }

    /// <summary>Sets (or with null removes) a configuration, durably.</summary>
    public async ValueTask SetAsync(MarketEnvironment environment, string dipId, string interfaceId, WebhookConfig? config, CancellationToken cancellationToken = default)
    {
        var change = new WebhookChange(environment, dipId, interfaceId, config?.CallbackUrl.ToString(), config?.MaxMessageCount ?? 0, config?.MaxPayloadKilobytes ?? 0);
        await _store.EnsureTopicAsync(new TopicSpec(Topic, 1), cancellationToken);
        await _store.AppendAsync([new EventWrite(Topic, 0, default, JsonSerializer.SerializeToUtf8Bytes(change, WebhookJsonContext.Default.WebhookChange))], cancellationToken);
        Apply(change);
        Changed?.Invoke(environment, dipId, interfaceId);
    }

    private void Apply(WebhookChange change)
    {
        lock (_lock)
        {
            var key = (change.Environment, change.DipId, change.InterfaceId);
            if (change.CallbackUrl is null)
            {
                _configs.Remove(key);
            }
            else
            {
                _configs[key] = new WebhookConfig(new Uri(change.CallbackUrl), change.MaxMessageCount, change.MaxPayloadKilobytes);
            }
        }
    }

    /// <summary>One stored change.</summary>
    internal sealed record WebhookChange(MarketEnvironment Environment, string DipId, string InterfaceId, string? CallbackUrl, int MaxMessageCount, int MaxPayloadKilobytes);
}

/// <summary>Source-generated JSON for webhook changes.</summary>
[JsonSerializable(typeof(WebhookConfigStore.WebhookChange))]
[JsonSourceGenerationOptions(UseStringEnumConverter = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class WebhookJsonContext : JsonSerializerContext;
