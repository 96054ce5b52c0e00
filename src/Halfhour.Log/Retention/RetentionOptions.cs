namespace Halfhour.Log.Retention;

/// <summary>
/// A topic's retention: whole sealed segments are deleted, oldest first, once all their records are
/// older than <see cref="MaxAge"/> or while the topic holds more than <see cref="MaxBytes"/>.
/// The active segment of a partition is never deleted.
/// </summary>
public sealed record RetentionOptions
{
    /// <summary>Keep everything.</summary>
    public static RetentionOptions KeepForever { get; } = new();

    /// <summary>Delete segments whose newest record is older than this (null: no age limit).</summary>
    public TimeSpan? MaxAge { get; init; }

    /// <summary>Delete the oldest segments while the topic's files exceed this many bytes (null: no size limit).</summary>
    public long? MaxBytes { get; init; }

    internal void Validate()
    {
        if (MaxAge is { } age && age <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAge), age, "A retention age must be positive.");
        }

        if (MaxBytes is { } bytes && bytes <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBytes), bytes, "A retention size must be positive.");
        }
    }
}

/// <summary>A sealed segment about to be deleted by retention, as the hook sees it (its files still exist).</summary>
public sealed record SegmentDeletion(string Topic, int Partition, long BaseOffset, long NextOffset, long Bytes, DateTimeOffset NewestRecord, string LogFilePath);

/// <summary>What one retention pass deleted.</summary>
public readonly record struct RetentionReport(int SegmentsDeleted, long BytesDeleted);
