using System.Text.Json;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;

namespace Halfhour.Broker.Audit;

/// <summary>What happened, for the audit trail.</summary>
public enum AuditAction
{
    /// <summary>A participant published a batch.</summary>
    Published,
    /// <summary>A recipient acknowledged messages.</summary>
    Received,
    /// <summary>A recipient asked for a replay.</summary>
    Replayed,
    /// <summary>A recipient asked for a requeue.</summary>
    Requeued,
    /// <summary>A configuration changed (webhook, participant, credentials).</summary>
    ConfigurationChanged,
    /// <summary>A caller failed to authenticate.</summary>
    AuthenticationFailed,
    /// <summary>A recipient sent status messages about messages it received, to their senders.</summary>
    StatusSent,
}

/// <summary>One audit record: when, who, what, and the details an auditor needs.</summary>
/// <param name="At">When it happened.</param>
/// <param name="Action">What happened.</param>
/// <param name="Actor">Who did it: a DIP ID, "operator", or the remote address of an unknown caller.</param>
/// <param name="Environment">The environment it happened in, when one applies.</param>
/// <param name="Subject">What it was done to: a channel, a recipient, a participant.</param>
/// <param name="Detail">A sentence with the specifics (counts, reasons).</param>
public sealed record AuditEntry(DateTimeOffset At, AuditAction Action, string Actor, string? Environment, string? Subject, string Detail);

/// <summary>
/// The audit trail: an append-only topic of JSON records, durable like the events themselves. Entries
/// about a publish ride in the same append as the messages they describe (no extra commit); others are
/// appended on their own.
/// </summary>
public sealed class AuditTrail(IEventStore store)
{
    private readonly IEventStore _store = store;
    private int _ensured;

    /// <summary>The audit record as the bytes to append in a group with other writes.</summary>
    public static EventWrite ToWrite(AuditEntry entry) => new(TopicLayout.AuditTopic, 0, default, Serialize(entry));

    /// <summary>Creates the audit topic when missing.</summary>
    public async ValueTask EnsureAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _ensured) == 0)
        {
            await _store.EnsureTopicAsync(new TopicSpec(TopicLayout.AuditTopic, 1), cancellationToken);
            Volatile.Write(ref _ensured, 1);
        }
    }

    /// <summary>Appends one entry durably.</summary>
    public async ValueTask RecordAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        await EnsureAsync(cancellationToken);
        await _store.AppendAsync([ToWrite(entry)], cancellationToken);
    }

    /// <summary>Reads entries from <paramref name="fromOffset"/> (for operators and tests).</summary>
    public async ValueTask<(IReadOnlyList<AuditEntry> Entries, long Next)> ReadAsync(long fromOffset, int maxBytes, CancellationToken cancellationToken = default)
    {
        await EnsureAsync(cancellationToken);
        using var batch = await _store.ReadAsync(TopicLayout.AuditTopic, 0, fromOffset, maxBytes, cancellationToken);
        var entries = new List<AuditEntry>(batch.Events.Count);
        foreach (var stored in batch.Events)
        {
            entries.Add(JsonSerializer.Deserialize(stored.Value.Span, AuditJsonContext.Default.AuditEntry)!);
        }

        return (entries, batch.NextOffset);
    }

    private static byte[] Serialize(AuditEntry entry) => JsonSerializer.SerializeToUtf8Bytes(entry, AuditJsonContext.Default.AuditEntry);
}

/// <summary>Source-generated JSON for audit records (no reflection).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(AuditEntry))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(UseStringEnumConverter = true, PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class AuditJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
