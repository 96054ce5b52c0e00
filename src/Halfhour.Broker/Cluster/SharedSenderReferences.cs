using Halfhour.Broker.Deduplication;

namespace Halfhour.Broker.Cluster;

/// <summary>
/// Sender unique references shared by every node of a cluster: the node's in-memory
/// <see cref="SenderReferenceIndex"/> first (requests on this node wait for each other there, and committed
/// references are answered without a round trip), then the cluster-wide <see cref="IReferenceClaims"/>, whose
/// create-only entry decides between nodes.
/// Failure semantics: a node that dies holding a claim leaves it held; the claims store lets another node take it
/// over once it is stale, and the engine's own idempotency key answers that node's append with the original offset,
/// so the retry still gets the original transaction ID. A commit that cannot be recorded in the shared store
/// (the store unreachable after the event was stored) is kept locally and recovers the same way.
/// </summary>
public sealed class SharedSenderReferences(SenderReferenceIndex local, IReferenceClaims claims, TimeProvider time) : ISenderReferences
{
    /// <summary>
    /// How long to wait before looking again at a reference another node holds: that node is appending it,
    /// which takes milliseconds, so a short pause answers the retry soon without hammering the store.
    /// </summary>
    private static readonly TimeSpan HeldElsewherePause = TimeSpan.FromMilliseconds(20);

    /// <inheritdoc />
    public async ValueTask<Reservation> ReserveAsync(SenderReference reference, CancellationToken cancellationToken = default)
    {
        var reservation = local.Reserve(reference.Key);
        if (reservation.State != ReservationState.Reserved)
        {
            return reservation;
        }

        try
        {
            while (true)
            {
                var claim = await claims.TryClaimAsync(reference.Name, cancellationToken);
                switch (claim.State)
                {
                    case ReferenceClaimState.Claimed:
                        return reservation;
                    case ReferenceClaimState.Committed:
                        // Accepted through another node: remember it here too (waiters on this node get it as well).
                        local.Commit(reference.Key, claim.TransactionId!, time.GetUtcNow());
                        return new Reservation(ReservationState.Committed, claim.TransactionId, null);
                    default:
                        await Task.Delay(HeldElsewherePause, time, cancellationToken);
                        break;
                }
            }
        }
        catch
        {
            local.Release(reference.Key);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask CommitAsync(SenderReference reference, string transactionId, DateTimeOffset acceptedAt)
    {
        try
        {
            await claims.CommitAsync(reference.Name, transactionId);
        }
        catch (IOException)
        {
            // The event is stored: see the failure semantics above.
        }
        finally
        {
            local.Commit(reference.Key, transactionId, acceptedAt);
        }
    }

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(SenderReference reference)
    {
        try
        {
            await claims.ReleaseAsync(reference.Name);
        }
        catch (IOException)
        {
            // Left held: it goes stale and is taken over, as a dead node's claim is.
        }
        finally
        {
            local.Release(reference.Key);
        }
    }

    /// <inheritdoc />
    public void Forget(SenderReference reference) => local.Forget(reference.Key);
}
