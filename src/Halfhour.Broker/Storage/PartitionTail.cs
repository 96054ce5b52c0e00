namespace Halfhour.Broker.Storage;

/// <summary>
/// Follows one partition's tail for ever: waits (without polling) for records past a position and hands each to a
/// visitor in offset order. How a node of a cluster keeps state derived from records other nodes append (the
/// appointment book, webhook configurations) current.
/// Failure semantics: a read that fails is retried from the same position after a pause, never skipped; the
/// visitor sees every record once per tail, in order.
/// </summary>
public static class PartitionTail
{
    /// <summary>256 KiB per read: derived-state topics are small and quiet; a burst is read in a few round trips.</summary>
    private const int ReadBytes = 256 << 10;

    /// <summary>A second between attempts while the store is unreachable (a leader election takes a few).</summary>
    private static readonly TimeSpan RetryPause = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Calls <paramref name="visit"/> for every record of the partition from <paramref name="from"/> on, as it
    /// arrives, until cancelled; <paramref name="failed"/> hears of each failed read before it is retried.
    /// </summary>
    public static async Task FollowAsync(this IEventStore store, string topic, int partition, long from, Action<StoredEvent> visit,
        Action<Exception>? failed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(visit);
        var position = from;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await store.WaitForAsync(topic, partition, position, cancellationToken);
                using var batch = await store.ReadAsync(topic, partition, position, ReadBytes, cancellationToken);
                foreach (var stored in batch.Events)
                {
                    visit(stored);
                }

                position = batch.NextOffset;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                failed?.Invoke(ex);
                try
                {
                    await Task.Delay(RetryPause, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
