namespace Halfhour.Broker.Storage;

/// <summary>Reading a whole partition from a position to its end, the way start-up rebuilds derive their state.</summary>
public static class EventStoreScans
{
    /// <summary>4 MiB per read: a start-up scan is sequential, so large reads keep round trips few.</summary>
    private const int ScanReadBytes = 4 << 20;

    /// <summary>
    /// Calls <paramref name="visit"/> for every record of the partition from <paramref name="from"/> (its first record
    /// when null) to its end as of the call; the record's memory is valid only during the call.
    /// </summary>
    public static async ValueTask ScanAsync(this IEventStore store, string topic, int partition, long? from, Action<StoredEvent> visit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(visit);
        var position = from ?? (await store.RangeAsync(topic, partition, cancellationToken)).Start;
        while (true)
        {
            using var batch = await store.ReadAsync(topic, partition, position, ScanReadBytes, cancellationToken);
            if (batch.Events.Count == 0)
            {
                return;
            }

            foreach (var stored in batch.Events)
            {
                visit(stored);
            }

            position = batch.NextOffset;
        }
    }
}
