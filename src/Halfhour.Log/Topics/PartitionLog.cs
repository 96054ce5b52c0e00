using System.Globalization;
using Halfhour.Log.Batches;
using Halfhour.Log.Encryption;
using Halfhour.Log.Internal;
using Halfhour.Log.Records;
using Halfhour.Log.Recovery;
using Halfhour.Log.Segments;
using Microsoft.Extensions.Logging;

namespace Halfhour.Log.Topics;

/// <summary>
/// One partition: its segments (oldest first), the offsets producers are given, and what readers see.
/// Producers assign offsets and encode under <see cref="AppendLock"/>; only the log's writer thread
/// writes segments; readers see a segment's bytes only once the writer has published them.
/// Failure semantics: see <see cref="Segment"/> and <see cref="SegmentRecovery"/>; a new segment file
/// is created only after the previous one is sealed, and its directory entry is fsynced at once.
/// </summary>
internal sealed partial class PartitionLog : IDisposable
{
    /// <summary>
    /// fsync a partition's indexes after every 16 MiB it writes: index entries are not fsynced with the
    /// data, so this bounds what recovery must rescan after a power loss to ~16 MiB per partition.
    /// </summary>
    private const long IndexFlushBytes = 16L << 20;

    private static int s_lockOrder;

    private readonly Lock _segmentsLock = new();
    private readonly ILogger _logger;
    private Segment[] _segments;
    private long _nextOffsetToAssign;
    private long _lastTimestamp;
    private long _bytesSinceIndexFlush;
    private TaskCompletionSource _dataArrived = NewSignal();
    private bool _closed;

    private PartitionLog(string topic, int id, string directory, TopicOptions options, BatchCodec codec, Segment[] segments, ILogger logger)
    {
        Topic = topic;
        Id = id;
        Directory = directory;
        Options = options;
        Codec = codec;
        _segments = segments;
        _logger = logger;
        var last = segments[^1];
        _nextOffsetToAssign = last.CommittedNextOffset;
        // An active segment left empty by a crash has no timestamp: the sealed one before it has the latest.
        _lastTimestamp = Math.Max(last.LastTimestamp, segments.Length > 1 ? segments[^2].LastTimestamp : 0);
    }

    public string Topic { get; }

    public int Id { get; }

    public string Directory { get; }

    public TopicOptions Options { get; }

    public BatchCodec Codec { get; }

    /// <summary>Held while offsets are assigned and batches encoded and queued, so queue order is offset order.</summary>
    public Lock AppendLock { get; } = new();

    /// <summary>The order in which a multi-partition append takes partitions' append locks, so two appends never deadlock.</summary>
    public int LockOrder { get; } = Interlocked.Increment(ref s_lockOrder);

    /// <summary>Set by the writer while this partition has writes in the current commit.</summary>
    public bool IsDirty { get; set; }

    /// <summary>Set by the writer while this partition has journaled writes not yet fsynced by a checkpoint.</summary>
    public bool WrittenSinceCheckpoint { get; set; }

    public long StartOffset => Volatile.Read(ref _segments)[0].BaseOffset;

    public long NextOffset => Volatile.Read(ref _segments)[^1].CommittedNextOffset;

    public Segment[] Segments => Volatile.Read(ref _segments);

    /// <summary>Opens (recovering) or creates the partition directory.</summary>
    public static PartitionLog Open(string topic, int id, string topicDirectory, TopicOptions options, BatchCodec codec, int maxBatchBytes, ILogger logger, long? journalCoversFrom = null)
    {
        var directory = Path.Combine(topicDirectory, id.ToString(CultureInfo.InvariantCulture));
        System.IO.Directory.CreateDirectory(directory);
        var bases = new List<long>();
        foreach (var path in System.IO.Directory.EnumerateFiles(directory, "*" + Segment.LogExtension))
        {
            if (Segment.TryParseBaseOffset(Path.GetFileName(path), out var baseOffset))
            {
                bases.Add(baseOffset);
            }
        }

        bases.Sort();
        var segments = new Segment[Math.Max(1, bases.Count)];
        try
        {
            if (bases.Count == 0)
            {
                segments[0] = Segment.Create(directory, 0);
                DurableFile.FlushDirectory(directory);
            }

            for (var i = 0; i < bases.Count; i++)
            {
                segments[i] = Segment.Open(directory, bases[i]);
                if (i < bases.Count - 1)
                {
                    SegmentRecovery.OpenSealed(segments[i], bases[i + 1], options.IndexIntervalBytes, maxBatchBytes, logger);
                }
                else
                {
                    SegmentRecovery.RecoverTail(segments[i], options.IndexIntervalBytes, logger, journalCoversFrom);
                }
            }
        }
        catch
        {
            foreach (var segment in segments)
            {
                segment?.Dispose();
            }

            throw;
        }

        return new PartitionLog(topic, id, directory, options, codec, segments, logger);
    }

    /// <summary>Gives <paramref name="count"/> consecutive offsets and the append timestamp (call under <see cref="AppendLock"/>).</summary>
    public long AssignOffsets(int count, long now, out long timestamp)
    {
        // Append times never go backwards within a partition, so the time index stays sorted even if the clock does.
        timestamp = Math.Max(now, _lastTimestamp);
        _lastTimestamp = timestamp;
        var first = _nextOffsetToAssign;
        _nextOffsetToAssign += count;
        return first;
    }

    /// <summary>Writer thread: appends a batch to the active segment, sealing it first when the batch would overflow it.</summary>
    public void Write(in EncodedBatch batch)
    {
        var active = _segments[^1];
        if (active.WrittenLength > 0 && active.WrittenLength + batch.Length > Options.SegmentBytes)
        {
            active.Seal();
            var next = Segment.Create(Directory, batch.FirstOffset);
            DurableFile.FlushDirectory(Directory);
            lock (_segmentsLock)
            {
                Volatile.Write(ref _segments, [.. _segments, next]);
            }

            active = next;
        }

        active.Write(batch, Options.IndexIntervalBytes);
        _bytesSinceIndexFlush += batch.Length;
    }

    /// <summary>
    /// On open, before the writer starts: writes a batch the commit journal held when the partition lacks
    /// it; false when the partition already holds it. A batch that would leave a gap is damage.
    /// </summary>
    public bool Replay(in EncodedBatch batch, string journalPath)
    {
        var next = _segments[^1].WrittenNextOffset;
        if (batch.LastOffset < next)
        {
            return false;
        }

        if (batch.FirstOffset != next)
        {
            throw new LogCorruptionException(journalPath, 0, $"the journal holds offsets {batch.FirstOffset}-{batch.LastOffset} of {Topic}/{Id}, but the partition ends at {next}");
        }

        Write(batch);
        _nextOffsetToAssign = batch.LastOffset + 1;
        _lastTimestamp = Math.Max(_lastTimestamp, batch.Timestamp);
        return true;
    }

    /// <summary>Writer thread: fsyncs the active segment's data.</summary>
    public void FlushData() => _segments[^1].FlushData();

    /// <summary>Writer thread: shows what was written to readers and wakes tail-followers.</summary>
    public void Publish()
    {
        var active = _segments[^1];
        active.Publish();
        if (_bytesSinceIndexFlush >= IndexFlushBytes)
        {
            active.FlushIndexes();
            _bytesSinceIndexFlush = 0;
        }

        Interlocked.Exchange(ref _dataArrived, NewSignal()).TrySetResult();
    }

    /// <summary>Reads whole batches from <paramref name="fromOffset"/>, about <paramref name="maxBytes"/> of them (at least one batch).</summary>
    public LogReadResult Read(long fromOffset, int maxBytes, EncryptionKeyring? keyring)
    {
        var result = new LogReadResult(fromOffset);
        try
        {
            while (true)
            {
                var segments = Volatile.Read(ref _segments);
                var next = segments[^1].CommittedNextOffset;
                if (fromOffset < segments[0].BaseOffset || fromOffset > next)
                {
                    throw new OffsetOutOfRangeException(Topic, Id, fromOffset, segments[0].BaseOffset, next);
                }

                if (fromOffset == next)
                {
                    return result;
                }

                var segment = segments[FindSegment(segments, fromOffset)];
                if (!segment.TryAcquire())
                {
                    continue; // deleted by retention meanwhile: look again
                }

                try
                {
                    SegmentReader.Read(segment, fromOffset, maxBytes, keyring, result);
                }
                finally
                {
                    segment.Release();
                }

                return result;
            }
        }
        catch (LogCorruptionException e)
        {
            LogReadCorruption(_logger, Topic, Id, e.FilePath, e.Position, e.Reason);
            result.Dispose();
            throw;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>The offset of the first record appended at or after <paramref name="timestampMs"/> (the next offset when none was).</summary>
    public long FindOffset(long timestampMs)
    {
        foreach (var segment in Volatile.Read(ref _segments))
        {
            if (segment.LastTimestamp < timestampMs || !segment.TryAcquire())
            {
                continue;
            }

            try
            {
                var offset = SegmentReader.FindOffset(segment, timestampMs);
                if (offset >= 0)
                {
                    return offset;
                }
            }
            finally
            {
                segment.Release();
            }
        }

        return NextOffset;
    }

    /// <summary>Completes when a record at or past <paramref name="offset"/> is readable.</summary>
    public async ValueTask WaitForDataAsync(long offset, CancellationToken cancellationToken)
    {
        while (true)
        {
            var signal = Volatile.Read(ref _dataArrived);
            if (NextOffset > offset)
            {
                return;
            }

            ObjectDisposedException.ThrowIf(Volatile.Read(ref _closed), this);
            await signal.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Removes the oldest segment if it is <paramref name="segment"/> and not the active one; false otherwise.</summary>
    public bool TryRemoveOldest(Segment segment)
    {
        lock (_segmentsLock)
        {
            var segments = _segments;
            if (segments.Length < 2 || segments[0] != segment)
            {
                return false;
            }

            Volatile.Write(ref _segments, segments[1..]);
        }

        segment.Delete();
        DurableFile.FlushDirectory(Directory);
        return true;
    }

    /// <summary>Writer thread at shutdown: makes everything durable.</summary>
    public void FlushAll()
    {
        var active = _segments[^1];
        active.FlushData();
        active.FlushIndexes();
    }

    public void Dispose()
    {
        Volatile.Write(ref _closed, true);
        Interlocked.Exchange(ref _dataArrived, NewSignal()).TrySetResult();
        foreach (var segment in Volatile.Read(ref _segments))
        {
            segment.Dispose();
        }
    }

    private static int FindSegment(Segment[] segments, long offset)
    {
        int low = 0, high = segments.Length - 1;
        while (low < high)
        {
            var middle = (low + high + 1) >> 1;
            if (segments[middle].BaseOffset <= offset)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return low;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Corrupt data in topic {Topic} partition {Partition}: {Path} at byte {Position}: {Reason}. The records were not served.")]
    private static partial void LogReadCorruption(ILogger logger, string topic, int partition, string path, long position, string reason);
}
