using System.Collections.Concurrent;
using System.Text;
using Halfhour.Broker.Cluster;
using Halfhour.Engines.Nats.Cursors;
using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Halfhour.Engines.Nats.Cluster;

/// <summary>
/// Leases on work in a JetStream key-value bucket whose entries live <see cref="TakeOverWithin"/>: a lease is an
/// entry naming its holder, acquired with a create-only put, renewed by the holder with a compare-and-set on its
/// revision every third of its life, and gone when the holder stops renewing (the bucket's age limit removes it),
/// so another node's create then succeeds.
/// Failure semantics: a holder that cannot renew (the store unreachable, or its revision overtaken) stops calling
/// itself the holder once the lease could have expired, so two live nodes never both believe they hold it for
/// longer than a renewal round trip; work under a lease must tolerate that overlap (delivery is at least once).
/// </summary>
internal sealed class KvWorkLeases : IWorkLeases
{
    private readonly INatsKVStore _bucket;
    private readonly StoreCalls _calls;
    private readonly byte[] _node;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, Held> _held = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _kept = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _renewals;

    public KvWorkLeases(INatsKVStore bucket, string nodeId, TimeSpan timeToLive, TimeProvider time, StoreCalls calls)
    {
        _bucket = bucket;
        _calls = calls;
        _node = Encoding.UTF8.GetBytes(nodeId);
        _time = time;
        TakeOverWithin = timeToLive;
        _renewals = Task.Run(RenewAsync);
    }

    /// <inheritdoc />
    public TimeSpan TakeOverWithin { get; }

    /// <inheritdoc />
    public async ValueTask<bool> TryAcquireAsync(string work, CancellationToken cancellationToken = default)
    {
        if (Holds(work))
        {
            return true;
        }

        try
        {
            var created = await _calls.WriteAsync("lease create", _bucket, work, _node, null, cancellationToken);
            if (created.Success)
            {
                _held[work] = new Held(created.Value, _time.GetUtcNow());
                return true;
            }

            // Ours already (this node lost track of it after a failed renewal)? Renew it; otherwise another node holds it.
            var entry = await _calls.RetryAsync("lease get", work, ct => _bucket.TryGetEntryAsync<byte[]>(work, cancellationToken: ct), cancellationToken);
            if (entry.Success && entry.Value.Value is { } holder && holder.AsSpan().SequenceEqual(_node))
            {
                var revision = entry.Value.Revision;
                var renewed = await _calls.WriteAsync("lease update", _bucket, work, _node, revision, cancellationToken);
                if (renewed.Success)
                {
                    _held[work] = new Held(renewed.Value, _time.GetUtcNow());
                    return true;
                }
            }

            return false;
        }
        catch (NatsException ex)
        {
            throw new IOException($"Acquiring lease '{work}' failed.", ex);
        }
    }

    /// <summary>
    /// Whether some node holds <paramref name="work"/> now: its entry exists, so its holder renewed it within
    /// <see cref="TakeOverWithin"/> (an expired or released lease has no entry).
    /// </summary>
    public async ValueTask<bool> IsHeldAsync(string work, CancellationToken cancellationToken)
    {
        var entry = await _calls.RetryAsync("lease get", work, ct => _bucket.TryGetEntryAsync<byte[]>(work, cancellationToken: ct), cancellationToken);
        return entry.Success || (entry.Error is NatsKVKeyNotFoundException or NatsKVKeyDeletedException
            ? false
            : throw new IOException($"Reading lease '{work}' failed.", entry.Error));
    }

    /// <summary>
    /// Acquires <paramref name="work"/> and keeps it for as long as this runs: renewed like any lease, and taken again
    /// should it lapse (the store unreachable for longer than its life). False when another node holds it.
    /// </summary>
    public async ValueTask<bool> KeepAsync(string work, CancellationToken cancellationToken)
    {
        if (!await TryAcquireAsync(work, cancellationToken))
        {
            return false;
        }

        _kept[work] = true;
        return true;
    }

    /// <summary>
    /// The lease a live node holds on itself for as long as it runs (renewed with its other leases): other nodes read
    /// it to tell a claim left by a dead node, which they may take over at once, from one a live node is working on.
    /// </summary>
    public static string NodeLeaseOf(string nodeId) => "node." + KvCursorStore.KeyOf(nodeId);

    /// <inheritdoc />
    public bool Holds(string work) => _held.TryGetValue(work, out var held) && _time.GetUtcNow() - held.RenewedAt < TakeOverWithin;

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(string work, CancellationToken cancellationToken = default)
    {
        if (!_held.TryRemove(work, out var held))
        {
            return;
        }

        try
        {
            await _calls.RunAsync("lease delete", work, ct => _bucket.TryDeleteAsync(work, new NatsKVDeleteOpts { Revision = held.Revision }, ct), cancellationToken);
        }
        catch (NatsException ex)
        {
            throw new IOException($"Releasing lease '{work}' failed.", ex);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await _renewals;
        }
        catch (OperationCanceledException)
        {
        }

        _stopping.Dispose();
    }

    private async Task RenewAsync()
    {
        // A third of the lease's life: two renewals may fail (a leader election) before the lease lapses.
        using var timer = new PeriodicTimer(TakeOverWithin / 3, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                foreach (var (work, held) in _held)
                {
                    try
                    {
                        var renewed = await _calls.WriteAsync("lease renew", _bucket, work, _node, held.Revision, _stopping.Token);
                        if (renewed.Success)
                        {
                            _held[work] = new Held(renewed.Value, _time.GetUtcNow());
                        }
                        else if (!StoreCalls.IsUnanswered(renewed.Error))
                        {
                            _held.TryRemove(work, out _); // expired and taken, or deleted: no longer ours
                        }
                    }
                    catch (NatsException)
                    {
                        // Unreachable for now: Holds turns false once the lease could have expired; the next tick tries again.
                    }
                }

                foreach (var work in _kept.Keys.Where(work => !_held.ContainsKey(work)))
                {
                    try
                    {
                        await TryAcquireAsync(work, _stopping.Token); // lapsed while the store was unreachable: take it again
                    }
                    catch (IOException)
                    {
                        // The next tick tries again.
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private readonly record struct Held(ulong Revision, DateTimeOffset RenewedAt);
}
