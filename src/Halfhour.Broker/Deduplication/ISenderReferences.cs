namespace Halfhour.Broker.Deduplication;

/// <summary>A sender unique reference: what it is unique within (environment and sender), and its 64-bit key.</summary>
/// <param name="Key">The hash of the three fields (<see cref="SenderReferenceIndex.KeyOf(string, string, string)"/>).</param>
/// <param name="Environment">The environment.</param>
/// <param name="SenderDipId">The sender's DIP ID.</param>
/// <param name="UniqueReference">The sender's unique reference.</param>
public readonly record struct SenderReference(ulong Key, string Environment, string SenderDipId, string UniqueReference)
{
    /// <summary>The reference of a message, with its key.</summary>
    public static SenderReference Of(string environment, string senderDipId, string uniqueReference)
        => new(SenderReferenceIndex.KeyOf(environment, senderDipId, uniqueReference), environment, senderDipId, uniqueReference);

    /// <summary>The reference spelled out (<c>DEV.1234567890.REF</c>), as shared stores key it: no hash, so no collision.</summary>
    public string Name => $"{Environment}.{SenderDipId}.{UniqueReference}";
}

/// <summary>
/// Which sender unique references were accepted, so a retry never creates a second event: reserve, then commit
/// with the transaction ID once the event is durable, or release when it is not. One node alone uses the
/// in-memory <see cref="SenderReferenceIndex"/>; nodes sharing a store use <see cref="Cluster.SharedSenderReferences"/>,
/// so a retry that lands on another node still gets the original transaction ID.
/// </summary>
public interface ISenderReferences
{
    /// <summary>Looks a reference up and, when it is unknown, reserves it for the caller.</summary>
    ValueTask<Reservation> ReserveAsync(SenderReference reference, CancellationToken cancellationToken = default);

    /// <summary>Records the transaction ID of a reserved reference whose event is now durable.</summary>
    ValueTask CommitAsync(SenderReference reference, string transactionId, DateTimeOffset acceptedAt);

    /// <summary>Gives up a reservation (nothing was stored).</summary>
    ValueTask ReleaseAsync(SenderReference reference);

    /// <summary>Forgets a committed reference whose key turned out to belong to another message (a hash collision).</summary>
    void Forget(SenderReference reference);
}

/// <summary>The reservation protocol every publisher follows.</summary>
public static class SenderReferencesExtensions
{
    /// <summary>
    /// Reserves a reference, waiting out another request that holds it: returns the transaction ID it was already stored
    /// with, or null when the caller now holds it (and must commit or release it).
    /// </summary>
    public static async ValueTask<string?> ClaimAsync(this ISenderReferences references, SenderReference reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(references);
        while (true)
        {
            var reservation = await references.ReserveAsync(reference, cancellationToken);
            switch (reservation.State)
            {
                case ReservationState.Reserved:
                    return null;
                case ReservationState.Committed:
                    return reservation.TransactionId;
                default:
                    if (await reservation.Pending!.WaitAsync(cancellationToken) is { } transactionId)
                    {
                        return transactionId;
                    }

                    continue; // the other request gave up: try to reserve it ourselves
            }
        }
    }
}
