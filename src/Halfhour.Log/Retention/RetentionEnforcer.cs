using Halfhour.Log.Segments;
using Halfhour.Log.Topics;
using Microsoft.Extensions.Logging;

namespace Halfhour.Log.Retention;

/// <summary>
/// Applies a topic's retention: deletes whole sealed segments, oldest first, by age and then by the
/// topic's total size, calling the hook before each deletion.
/// Failure semantics: a segment leaves the partition's list before its files are unlinked and the
/// directory fsynced; a crash in between leaves files that are simply opened again as the oldest
/// segment and deleted by the next pass. If the hook throws, that segment and all newer ones stay.
/// </summary>
internal static partial class RetentionEnforcer
{
    public static async ValueTask<RetentionReport> ApplyAsync(TopicLog topic, Func<SegmentDeletion, CancellationToken, ValueTask>? beforeDelete, long nowMs, ILogger logger, CancellationToken cancellationToken)
    {
        var retention = topic.Options.Retention;
        var deleted = 0;
        long bytesDeleted = 0;
        if (retention.MaxAge is { } maxAge)
        {
            var cutoff = nowMs - (long)maxAge.TotalMilliseconds;
            foreach (var partition in topic.Partitions)
            {
                while (partition.Segments is { Length: > 1 } segments && segments[0].LastTimestamp < cutoff)
                {
                    bytesDeleted += await DeleteAsync(partition, segments[0], segments[1].BaseOffset, beforeDelete, logger, cancellationToken).ConfigureAwait(false);
                    deleted++;
                }
            }
        }

        if (retention.MaxBytes is { } maxBytes)
        {
            var total = 0L;
            foreach (var partition in topic.Partitions)
            {
                foreach (var segment in partition.Segments)
                {
                    total += segment.CommittedLength;
                }
            }

            while (total > maxBytes)
            {
                // The oldest sealed segment across partitions: append times order segments within a partition too.
                PartitionLog? oldestPartition = null;
                Segment? oldest = null;
                foreach (var partition in topic.Partitions)
                {
                    var segments = partition.Segments;
                    if (segments.Length > 1 && (oldest is null || segments[0].LastTimestamp < oldest.LastTimestamp))
                    {
                        oldest = segments[0];
                        oldestPartition = partition;
                    }
                }

                if (oldest is null)
                {
                    break; // only active segments remain
                }

                var size = await DeleteAsync(oldestPartition!, oldest, oldestPartition!.Segments[1].BaseOffset, beforeDelete, logger, cancellationToken).ConfigureAwait(false);
                total -= size;
                bytesDeleted += size;
                deleted++;
            }
        }

        return new RetentionReport(deleted, bytesDeleted);
    }

    private static async ValueTask<long> DeleteAsync(PartitionLog partition, Segment segment, long nextOffset, Func<SegmentDeletion, CancellationToken, ValueTask>? beforeDelete, ILogger logger, CancellationToken cancellationToken)
    {
        var size = segment.CommittedLength;
        if (beforeDelete is not null)
        {
            var deletion = new SegmentDeletion(partition.Topic, partition.Id, segment.BaseOffset, nextOffset, size, DateTimeOffset.FromUnixTimeMilliseconds(segment.LastTimestamp), segment.LogPath);
            await beforeDelete(deletion, cancellationToken).ConfigureAwait(false);
        }

        if (partition.TryRemoveOldest(segment))
        {
            LogDeleted(logger, partition.Topic, partition.Id, segment.LogPath, size);
        }

        return size;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Retention deleted {Path} of topic {Topic} partition {Partition} ({Bytes} bytes).")]
    private static partial void LogDeleted(ILogger logger, string topic, int partition, string path, long bytes);
}
