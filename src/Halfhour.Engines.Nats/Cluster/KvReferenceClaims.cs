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
/// <c>H</c> behind; once the dead node's own lease has lapsed (<see cref="KvWorkLeases.NodeLeaseOf"/>: seconds), or
/// in any case after <see cref="StaleAfter"/>, another node takes it over with a compare-and-set on the entry's
/// revision (so only one does) and appends the message again, which JetStream answers with the original offset
/// through the message's <c>Nats-Msg-Id</c> when the dead node had stored it. A claim of this node's own, left by an
/// earlier attempt whose create got no answer but was applied, is taken over at once. Errors reach the caller as
/// <see cref="IOException"/>.
/// </summary>
/// <param name="bucket">The claims' bucket.</param>
/// <param name="nodeId">This node's ID, written into its claims.</param>
/// <param name="time">The clock of <see cref="StaleAfter"/>.</param>
/// <param name="calls">Through which every request goes.</param>
/// <param name="isAlive">Whether the node of the given ID runs (holds its node lease, <see cref="KvWorkLeases.NodeLeaseOf"/>).</param>
internal sealed class KvReferenceClaims(INatsKVStore bucket, string nodeId, TimeProvider time, StoreCalls calls,
    Func<string, CancellationToken, ValueTask<bool>> isAlive) : IReferenceClaims
{
    /// <summary>
    /// A held claim older than this is taken over even if its node still holds its lease: three times the longest an
    /// append keeps trying (10 s), so a live node's slow append is not taken over, and well inside JetStream's
    /// two-minute duplicate window, so the taking node's append still finds the original.
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
                var created = await calls.WriteAsync("claim create", bucket, kvKey, held, null, cancellationToken);
                if (created.Success)
                {
                    _held[key] = created.Value;
                    return new ReferenceClaim(ReferenceClaimState.Claimed);
                }

                if (StoreCalls.IsUnanswered(created.Error))
                {
                    // It may still be applied: the sender's retry then finds this node's own claim, below.
                    throw new IOException($"Claiming sender reference '{key}' got no answer.", created.Error);
                }

                var entry = await calls.RetryAsync("claim get", kvKey, ct => bucket.TryGetEntryAsync<byte[]>(kvKey, cancellationToken: ct), cancellationToken);
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

                if (!IsOwn(value) && !IsStale(value) && await isAlive(HolderOf(value), cancellationToken))
                {
                    return new ReferenceClaim(ReferenceClaimState.HeldElsewhere);
                }

                var revision = entry.Value.Revision;
                var taken = await calls.WriteAsync("claim take", bucket, kvKey, held, revision, cancellationToken);
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
            var kvKey = KvCursorStore.KeyOf(key);
            await calls.RetryAsync("claim commit", kvKey, ct => bucket.PutAsync(kvKey, Encoding.UTF8.GetBytes("C " + transactionId), cancellationToken: ct), cancellationToken);
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
            var kvKey = KvCursorStore.KeyOf(key);
            await calls.RetryAsync("claim release", kvKey, ct => bucket.TryDeleteAsync(kvKey, new NatsKVDeleteOpts { Revision = revision }, ct), cancellationToken);
        }
        catch (NatsException ex)
        {
            throw new IOException($"Releasing sender reference '{key}' failed.", ex);
        }
    }

    /// <summary>
    /// Whether a held claim names this node. This node's requests for one reference take turns (the broker's local
    /// index), so a claim of its own found while claiming is left from an earlier attempt whose create got no answer
    /// but was applied: it is taken over at once, not waited out as a dead node's would be.
    /// </summary>
    private bool IsOwn(string held) => HolderOf(held) == nodeId;

    /// <summary>The node named by a held claim (<c>H node time</c>).</summary>
    private static string HolderOf(string held) => held.Split(' ') is [_, var node, _] ? node : "";

    private bool IsStale(string held)
    {
        var parts = held.Split(' ');
        return parts.Length != 3 || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var at)
            || time.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(at) > StaleAfter;
    }
}
