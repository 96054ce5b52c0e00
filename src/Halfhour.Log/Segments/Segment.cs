using System.Globalization;
using Halfhour.Log.Batches;
using Halfhour.Log.Indexes;
using Microsoft.Win32.SafeHandles;

namespace Halfhour.Log.Segments;

/// <summary>
/// One segment of a partition: a log file of batches named by its base offset (20 digits, so names
/// sort as offsets do), its sparse offset index (.idx) and time index (.tix).
/// Failure semantics: batches are appended at the end with positioned writes and become durable at
/// the writer's fsync; only then are they published to readers. A crash can leave a torn or partial
/// batch at the end of the active segment, which recovery truncates. A segment is sealed (log and
/// indexes fsynced) before the next one is created, so only the last segment of a partition can have
/// a torn tail.
/// </summary>
internal sealed class Segment : IDisposable
{
    public const string LogExtension = ".log";
    public const string OffsetIndexExtension = ".idx";
    public const string TimeIndexExtension = ".tix";

    private int _leases = 1;
    private bool _dirty;
    private long _end;
    private long _nextOffset;
    private long _lastTimestamp;
    private long _lastBatchPosition = -1;
    private long _lastBatchOffset;
    private long _bytesSinceIndexEntry;
    private long _committedEnd;
    private long _committedNextOffset;
    private long _committedLastTimestamp;

    private Segment(string directory, long baseOffset, FileMode mode)
    {
        BaseOffset = baseOffset;
        var stem = Path.Combine(directory, baseOffset.ToString("D20", CultureInfo.InvariantCulture));
        LogPath = stem + LogExtension;
        Handle = File.OpenHandle(LogPath, mode, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        Offsets = new OffsetIndex(stem + OffsetIndexExtension, baseOffset);
        Times = new TimeIndex(stem + TimeIndexExtension, baseOffset);
        _nextOffset = baseOffset;
        _committedNextOffset = baseOffset;
    }

    public long BaseOffset { get; }

    public string LogPath { get; }

    public SafeFileHandle Handle { get; }

    public OffsetIndex Offsets { get; }

    public TimeIndex Times { get; }

    public bool IsSealed { get; private set; }

    /// <summary>Bytes written, durable or not (writer's view).</summary>
    public long WrittenLength => _end;

    /// <summary>One past the last offset written, durable or not (writer's view).</summary>
    public long WrittenNextOffset => _nextOffset;

    /// <summary>Bytes readers may read: written and, in the default durability, fsynced.</summary>
    public long CommittedLength => Volatile.Read(ref _committedEnd);

    /// <summary>One past the last offset readers may read in this segment.</summary>
    public long CommittedNextOffset => Volatile.Read(ref _committedNextOffset);

    /// <summary>The append time of the newest committed record, Unix ms (0 when the segment is empty).</summary>
    public long LastTimestamp => Volatile.Read(ref _committedLastTimestamp);

    /// <summary>Creates an empty segment file (the caller makes the directory entry durable).</summary>
    public static Segment Create(string directory, long baseOffset) => new(directory, baseOffset, FileMode.CreateNew);

    /// <summary>Opens an existing segment; its state is set by recovery.</summary>
    public static Segment Open(string directory, long baseOffset) => new(directory, baseOffset, FileMode.Open);

    /// <summary>The base offset a segment file name stands for, if it is one.</summary>
    public static bool TryParseBaseOffset(string fileName, out long baseOffset)
    {
        baseOffset = 0;
        return fileName.EndsWith(LogExtension, StringComparison.Ordinal)
            && fileName.Length == 20 + LogExtension.Length
            && long.TryParse(fileName.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out baseOffset);
    }

    /// <summary>Appends a batch at the end; indexes it when an interval of bytes has passed since the last entry.</summary>
    public void Write(in EncodedBatch batch, int indexIntervalBytes)
    {
        if (_bytesSinceIndexEntry >= indexIntervalBytes)
        {
            Offsets.Append(batch.FirstOffset, _end);
            Times.Append(batch.Timestamp, batch.FirstOffset, _end);
            _bytesSinceIndexEntry = 0;
        }

        RandomAccess.Write(Handle, batch.Buffer.AsSpan(0, batch.Length), _end);
        _lastBatchPosition = _end;
        _lastBatchOffset = batch.FirstOffset;
        _end += batch.Length;
        _bytesSinceIndexEntry += batch.Length;
        _nextOffset = batch.LastOffset + 1;
        _lastTimestamp = batch.Timestamp;
        _dirty = true;
    }

    /// <summary>Makes the written batches durable (fsync of the log file).</summary>
    public void FlushData()
    {
        if (_dirty)
        {
            RandomAccess.FlushToDisk(Handle);
            _dirty = false;
        }
    }

    /// <summary>Makes the indexes durable, which bounds how far recovery must scan after a power loss.</summary>
    public void FlushIndexes()
    {
        Offsets.File.Flush();
        Times.File.Flush();
    }

    /// <summary>Lets readers see everything written so far.</summary>
    public void Publish()
    {
        Volatile.Write(ref _committedLastTimestamp, _lastTimestamp);
        Volatile.Write(ref _committedEnd, _end);
        Volatile.Write(ref _committedNextOffset, _nextOffset);
    }

    /// <summary>Closes the segment for writing: a closing time-index entry, then log and indexes fsynced.</summary>
    public void Seal()
    {
        if (_lastBatchPosition >= 0 && (Times.Count == 0 || Times.EntryAt(Times.Count - 1).Position < _lastBatchPosition))
        {
            Times.Append(_lastTimestamp, _lastBatchOffset, _lastBatchPosition);
        }

        _dirty = true;
        FlushData();
        FlushIndexes();
        Publish();
        IsSealed = true;
    }

    /// <summary>Sets the writer's state from what recovery found: the valid end and the last batch before it.</summary>
    public void Restore(long end, long nextOffset, long lastTimestamp, long lastBatchPosition, long lastBatchOffset, long bytesSinceIndexEntry, bool isSealed)
    {
        _end = end;
        _nextOffset = nextOffset;
        _lastTimestamp = lastTimestamp;
        _lastBatchPosition = lastBatchPosition;
        _lastBatchOffset = lastBatchOffset;
        _bytesSinceIndexEntry = bytesSinceIndexEntry;
        IsSealed = isSealed;
        Publish();
    }

    /// <summary>Takes a lease so the files stay open while a reader uses them; false once the segment is deleted.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            var leases = Volatile.Read(ref _leases);
            if (leases == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _leases, leases + 1, leases) == leases)
            {
                return true;
            }
        }
    }

    /// <summary>Gives a lease back; the last one closes the files.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _leases) == 0)
        {
            Handle.Dispose();
            Offsets.Dispose();
            Times.Dispose();
        }
    }

    /// <summary>Deletes the files (readers holding a lease keep reading the unlinked inode until they release it).</summary>
    public void Delete()
    {
        File.Delete(LogPath);
        File.Delete(Offsets.File.Path);
        File.Delete(Times.File.Path);
        Release();
    }

    /// <summary>Closes the segment for good (log shutdown).</summary>
    public void Dispose() => Release();
}
