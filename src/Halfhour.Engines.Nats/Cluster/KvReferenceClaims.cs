using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Halfhour.Broker.Cluster;
using Halfhour.Engines.Nats.Cursors;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Halfhour.Engines.Nats.Cluster;

/// <summary>
/// Claims on sender unique references in a JetStream key-value bucket, one entry per reference: <c>H node time</c>
/// while a node holds it, <c>C transactionID</c> once committed. A claim is a create-only put, so of two nodes
/// claiming at once exactly one succeeds; the bucket's age limit forgets references after the de-duplication window.
/// Failure semantics: every put is replicated before it is acknowledged. A node that dies holding a claim leaves
/// <c>H</c> behind; after <see cref="StaleAfter"/> another node takes it over with a compare-and-set on the entry's
/// revision (so only one does) and appends the message again, which JetStream answers with the original offset
/// through the message's <c>Nats-Msg-Id</c> when the dead node had stored it. Errors reach the caller as
/// <see cref="IOException"/>.
/// </summary>
internal sealed class KvReferenceClaims(INatsKVStore bucket, string nodeId, TimeProvider time) : IReferenceClaims
{
    /// <summary>
    /// A held claim older than this belongs to a node that died or lost the store: three times the longest a
    /// publish acknowledgement may take (10 s), so a live node's slow append is never taken over, and well inside
    /// JetStream's two-minute duplicate window, so the taking node's append still finds the original.
    /// </summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, ulong> _held = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public async ValueTask<ReferenceClaim> TryClaimAsync(string key, CancellationToken cancellationToken = default)
    {
        var kvKey = KvCursorStore.KeyOf(key);
        var held = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"H {nodeId} {time.GetUtcNow().ToUnixTimeMilliseconds()}"));
        try
        {
            while (true)
            {
                var created = await bucket.TryCreateAsync(kvKey, held, cancellationToken: cancellationToken);
                if (created.Success)
                {
                    _held[key] = created.Value;
                    return new ReferenceClaim(ReferenceClaimState.Claimed);
                }

                var entry = await bucket.TryGetEntryAsync<byte[]>(kvKey, cancellationToken: cancellationToken);
                if (!entry.Success)
                {
                    if (entry.Error is NatsKVKeyNotFoundException or NatsKVKeyDeletedException)
                    {
                        continue; // released between our create and our look: create again
                    }

                    throw new IOException($"Reading the claim of sender reference '{key}' failed.", entry.Error);
                }

                var value = Encoding.UTF8.GetString(entry.Value.Value ?? []);
                if (value.StartsWith("C ", StringComparison.Ordinal))
                {
                    return new ReferenceClaim(ReferenceClaimState.Committed, value[2..]);
                }

                if (!IsStale(value))
                {
                    return new ReferenceClaim(ReferenceClaimState.HeldElsewhere);
                }

                var taken = await bucket.TryUpdateAsync(kvKey, held, entry.Value.Revision, cancellationToken: cancellationToken);
                if (taken.Success)
                {
                    _held[key] = taken.Value;
                    return new ReferenceClaim(ReferenceClaimState.Claimed);
                }
            }
        }
        catch (NatsException ex)
        {
            throw new IOException($"Claiming sender reference '{key}' failed.", ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask CommitAsync(string key, string transactionId, CancellationToken cancellationToken = default)
    {
        _held.TryRemove(key, out _);
        try
        {
            // A plain put, not compare-and-set: the event is stored, so its transaction ID is the truth even if a
            // node took the claim over meanwhile (its append was answered with the same offset).
            await bucket.PutAsync(KvCursorStore.KeyOf(key), Encoding.UTF8.GetBytes("C " + transactionId), cancellationToken: cancellationToken);
        }
        catch (NatsException ex)
        {
            throw new IOException($"Recording the transaction ID of sender reference '{key}' failed.", ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(string key, CancellationToken cancellationToken = default)
    {
        if (!_held.TryRemove(key, out var revision))
        {
            return;
        }

        try
        {
            // Only our own claim: if another node took it over meanwhile, the revision differs and nothing is deleted.
            await bucket.TryDeleteAsync(KvCursorStore.KeyOf(key), new NatsKVDeleteOpts { Revision = revision }, cancellationToken);
        }
        catch (NatsException ex)
        {
            throw new IOException($"Releasing sender reference '{key}' failed.", ex);
        }
    }

    private bool IsStale(string held)
    {
        var parts = held.Split(' ');
        return parts.Length != 3 || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var at)
            || time.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(at) > StaleAfter;
    }
}
