using Halfhour.Log.Segments;
using Microsoft.Extensions.Logging;

namespace Halfhour.Log.Recovery;

/// <summary>
/// Brings segments back to a consistent state on open, reading only what a crash can have touched:
/// the last segment from its last index entry that still points at a valid batch, and an index of a
/// sealed segment only when it is missing or visibly behind. The work is bounded by the index interval
/// (plus what was written but not fsynced), never by the size of the log.
/// Failure semantics: only the active segment's tail is ever truncated (then fsynced); index entries
/// are dropped or re-appended, never trusted without checking the batch they point at. A crash during
/// recovery leaves a state recovery accepts again. A sealed segment is never truncated: damage there
/// is reported.
/// </summary>
internal static partial class SegmentRecovery
{
    /// <summary>
    /// Recovers the active (last) segment: keeps every whole valid batch, truncates a torn tail, and
    /// throws <see cref="LogCorruptionException"/> when an invalid batch is followed by a valid one
    /// (that is damage to written data, not a torn write) — unless the commit journal holds the
    /// partition from <paramref name="journalCoversFrom"/> on and the invalid batch is at or past it:
    /// then it is a write the page cache had not flushed when the machine stopped (its later pages
    /// may have reached the disk before it), and the journal writes it back.
    /// </summary>
    public static void RecoverTail(Segment segment, int indexIntervalBytes, ILogger logger, long? journalCoversFrom = null)
        => Scan(segment, indexIntervalBytes, logger, isTail: true, journalCoversFrom);

    private static void Scan(Segment segment, int indexIntervalBytes, ILogger logger, bool isTail, long? journalCoversFrom = null)
    {
        var fileLength = RandomAccess.GetLength(segment.Handle);
        using var scanner = new BatchScanner(segment.Handle, fileLength);
        var (position, expectedOffset) = LastTrustedIndexPoint(segment, scanner, journalCoversFrom);
        segment.Offsets.File.TruncateAtPosition(position + 1);
        segment.Times.File.TruncateAtPosition(position + 1);

        long lastTimestamp = 0, lastBatchPosition = -1, lastBatchOffset = 0, bytesSinceIndexEntry = 0;
        while (position < fileLength)
        {
            var failure = scanner.TryReadBatch(position, out var header);
            if (failure is null && header.FirstOffset != expectedOffset)
            {
                failure = $"offset {header.FirstOffset} where {expectedOffset} was expected";
            }

            if (failure is not null)
            {
                var next = scanner.FindNextValidBatch(position + 1);
                var journaled = isTail && expectedOffset >= journalCoversFrom;
                if ((next >= 0 && !journaled) || !isTail)
                {
                    LogMiddleCorruption(logger, segment.LogPath, position, failure, next);
                    throw new LogCorruptionException(segment.LogPath, position, next >= 0 ? $"{failure}, followed by a valid batch at byte {next}" : $"{failure} in a sealed segment");
                }

                if (journaled)
                {
                    LogUnsyncedTail(logger, segment.LogPath, position, fileLength - position, failure, expectedOffset);
                }
                else
                {
                    LogTornTail(logger, segment.LogPath, position, fileLength - position, failure);
                }

                RandomAccess.SetLength(segment.Handle, position);
                RandomAccess.FlushToDisk(segment.Handle);
                fileLength = position;
                break;
            }

            if (position > 0 && bytesSinceIndexEntry >= indexIntervalBytes)
            {
                segment.Offsets.Append(header.FirstOffset, position);
                segment.Times.Append(header.FirstTimestamp, header.FirstOffset, position);
                bytesSinceIndexEntry = 0;
            }

            lastTimestamp = header.LastTimestamp;
            lastBatchPosition = position;
            lastBatchOffset = header.FirstOffset;
            expectedOffset = header.LastOffset + 1;
            position += header.Length;
            bytesSinceIndexEntry += header.Length;
        }

        segment.Restore(position, expectedOffset, lastTimestamp, lastBatchPosition, lastBatchOffset, bytesSinceIndexEntry, isSealed: false);
    }

    /// <summary>
    /// Checks a sealed segment's indexes cheaply (their last entries against the log's length) and
    /// rebuilds them by scanning that one segment when they are missing or behind.
    /// </summary>
    public static void OpenSealed(Segment segment, long nextBaseOffset, int indexIntervalBytes, int maxBatchBytes, ILogger logger)
    {
        var fileLength = RandomAccess.GetLength(segment.Handle);
        if (!IndexesLookWhole(segment, fileLength, indexIntervalBytes, maxBatchBytes))
        {
            LogRebuildingIndex(logger, segment.LogPath);
            segment.Offsets.File.TruncateTo(0);
            segment.Times.File.TruncateTo(0);
            Scan(segment, indexIntervalBytes, logger, isTail: false);
            if (segment.WrittenLength != fileLength || segment.CommittedNextOffset != nextBaseOffset)
            {
                throw new LogCorruptionException(segment.LogPath, segment.WrittenLength, $"sealed segment ends at offset {segment.CommittedNextOffset} but the next segment starts at {nextBaseOffset}");
            }

            segment.Seal();
            return;
        }

        var lastTimestamp = segment.Times.Count > 0 ? segment.Times.EntryAt(segment.Times.Count - 1).Timestamp : 0;
        segment.Restore(fileLength, nextBaseOffset, lastTimestamp, -1, 0, 0, isSealed: true);
    }

    private static bool IndexesLookWhole(Segment segment, long fileLength, int indexIntervalBytes, int maxBatchBytes)
    {
        if (fileLength == 0)
        {
            return true;
        }

        // Every sealed, non-empty segment has a closing time entry for its last batch.
        if (segment.Times.Count == 0)
        {
            return false;
        }

        var lastTime = segment.Times.EntryAt(segment.Times.Count - 1);
        if (lastTime.Position >= fileLength || fileLength - lastTime.Position > maxBatchBytes)
        {
            return false;
        }

        var lastIndexed = segment.Offsets.Count > 0 ? segment.Offsets.EntryAt(segment.Offsets.Count - 1).Position : 0;
        return lastIndexed <= lastTime.Position && fileLength - lastIndexed <= (long)indexIntervalBytes + (2L * maxBatchBytes);
    }

    /// <summary>
    /// Walks index entries back from the last until one points at a whole valid batch of the right offset,
    /// at or before <paramref name="notAfter"/>: past the journal's first offset, a valid batch says nothing
    /// of the batches before it (unsynced pages reach the disk in any order), so the scan starts before them.
    /// </summary>
    private static (long Position, long Offset) LastTrustedIndexPoint(Segment segment, BatchScanner scanner, long? notAfter)
    {
        for (var i = segment.Offsets.Count - 1; i >= 0; i--)
        {
            var (offset, position) = segment.Offsets.EntryAt(i);
            if (offset <= (notAfter ?? long.MaxValue) && scanner.TryReadBatch(position, out var header) is null && header.FirstOffset == offset)
            {
                return (position, offset);
            }

            segment.Offsets.File.TruncateTo(i);
        }

        return (0, segment.BaseOffset);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery truncated a torn tail of {Path}: {Bytes} bytes from byte {Position} ({Reason}); no acknowledged record was there.")]
    private static partial void LogTornTail(ILogger logger, string path, long position, long bytes, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery dropped an unsynced tail of {Path}: {Bytes} bytes from byte {Position} ({Reason}); the commit journal holds offset {Offset} on and writes it back.")]
    private static partial void LogUnsyncedTail(ILogger logger, string path, long position, long bytes, string reason, long offset);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Corruption in {Path} at byte {Position}: {Reason}, yet a valid batch follows at byte {Next}. The log refuses to open this partition until it is repaired or restored.")]
    private static partial void LogMiddleCorruption(ILogger logger, string path, long position, string reason, long next);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The indexes of sealed segment {Path} were missing or behind; rebuilt them from the log.")]
    private static partial void LogRebuildingIndex(ILogger logger, string path);
}
