namespace Halfhour.Broker.Cluster;

/// <summary>
/// Leases on work one node at a time does (a recipient channel's delivery), renewed by the holder while it lives
/// and taken over by another node within <see cref="TakeOverWithin"/> after the holder dies. A lease is a promise
/// of exclusivity in the normal case only: a holder paused past its lease may act once more after another node
/// took over, so work guarded by a lease must be safe to repeat (delivery is at least once).
/// </summary>
public interface IWorkLeases : IAsyncDisposable
{
    /// <summary>How long after its holder's death a lease can be taken over (its time to live).</summary>
    TimeSpan TakeOverWithin { get; }

    /// <summary>Holds <paramref name="work"/> for this node when it is free (or already ours); true when this node holds it now. Held leases are renewed in the background.</summary>
    ValueTask<bool> TryAcquireAsync(string work, CancellationToken cancellationToken = default);

    /// <summary>Whether this node still holds <paramref name="work"/> as far as it knows (false once a renewal failed).</summary>
    bool Holds(string work);

    /// <summary>Lets another node take <paramref name="work"/> at once (an orderly stop).</summary>
    ValueTask ReleaseAsync(string work, CancellationToken cancellationToken = default);
}
