namespace Halfhour.Broker.Cluster;

/// <summary>
/// Cluster-wide claims on sender unique references, one entry per (environment, sender, reference): created only
/// if absent (compare-and-set), so of two nodes reserving the same reference at once exactly one holds it; the
/// holder then records the transaction ID, or releases the claim when nothing was stored.
/// </summary>
public interface IReferenceClaims
{
    /// <summary>Claims <paramref name="key"/> for this node, or reports that it is committed (with its transaction ID) or held by another node.</summary>
    ValueTask<ReferenceClaim> TryClaimAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Records the transaction ID of a claimed reference whose event is durable.</summary>
    ValueTask CommitAsync(string key, string transactionId, CancellationToken cancellationToken = default);

    /// <summary>Gives up a claim this node holds (its append failed): the next claim of the key succeeds.</summary>
    ValueTask ReleaseAsync(string key, CancellationToken cancellationToken = default);
}

/// <summary>What a claim found.</summary>
public enum ReferenceClaimState
{
    /// <summary>This node holds the reference now.</summary>
    Claimed,

    /// <summary>The reference was accepted already; see <see cref="ReferenceClaim.TransactionId"/>.</summary>
    Committed,

    /// <summary>Another node holds it and has not finished: look again shortly.</summary>
    HeldElsewhere,
}

/// <summary>The outcome of <see cref="IReferenceClaims.TryClaimAsync"/>.</summary>
/// <param name="State">What was found.</param>
/// <param name="TransactionId">The original transaction ID when committed.</param>
public readonly record struct ReferenceClaim(ReferenceClaimState State, string? TransactionId = null);
