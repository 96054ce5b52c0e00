using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Halfhour.Log.Batches;
using Halfhour.Log.Commit;
using Halfhour.Log.Cursors;
using Halfhour.Log.Internal;
using Halfhour.Log.Records;
using Halfhour.Log.Recovery;
using Halfhour.Log.Retention;
using Halfhour.Log.Topics;
using Microsoft.Extensions.Logging;

namespace Halfhour.Log;

/// <summary>The offsets a partition holds: from <see cref="StartOffset"/> up to, not including, <see cref="NextOffset"/>.</summary>
public readonly record struct PartitionBounds(long StartOffset, long NextOffset);

/// <summary>
/// The embedded event log: a directory of topics, each with a fixed number of partitions of
/// segmented, checksummed, append-only files. One writer thread commits every append of every
/// partition in groups (one write per batch, one fsync per file written, per group), so concurrent
/// producers share fsyncs; an append completes only when its records are durable.
/// Layout: <c>DIR/TOPIC/topic.properties</c>, <c>DIR/TOPIC/PARTITION/BASEOFFSET.{log,idx,tix}</c>,
/// <c>DIR/cursors.journal</c>; <c>DIR/.lock</c> keeps a second process out.
/// </summary>
public sealed partial class EventLog : IDisposable, IAsyncDisposable
{
    /// <summary>
    /// The default read size: 1 MiB is ~700 records of 1.5 KB per call, enough that per-read costs
    /// (index lookup, pread, result object) vanish, and small enough to keep per-reader memory modest.
    /// </summary>
    public const int DefaultReadBytes = 1 << 20;

    /// <summary>
    /// Records of one append are cut into batches of about 256 KiB: per-batch costs (header, checksum
    /// set-up, GCM nonce and key schedule, zstd frame) are spread over ~170 records of 1.5 KB, and a
    /// reader never needs a buffer much larger than this to make progress.
    /// </summary>
    private const int BatchTargetBytes = 256 << 10;

    private const string CursorFileName = "cursors.journal";
    private const string LockFileName = ".lock";

    private readonly ConcurrentDictionary<string, TopicLog> _topics = new(StringComparer.Ordinal);
    private readonly Lock _topicsLock = new();
    private readonly FileStream _lock;
    private readonly LogWriter _writer;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _retentionPass = new(1, 1);
    private readonly Task _retentionLoop;
    private readonly int _maxBatchBytes;
    private int _disposed;

    private EventLog(string directory, EventLogOptions options)
    {
        Directory = directory;
        Options = options;
        _maxBatchBytes = BatchHeader.Size + Math.Max(BatchTargetBytes, options.MaxRecordBytes) + RecordCodec.FixedOverhead + 64;
        try
        {
            _lock = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"The log directory {directory} is in use by another process (or another EventLog in this one).", e);
        }

        if (options.JournalBytes is > 0 and < CommitJournal.MinimumBytes)
        {
            _lock.Dispose();
            throw new ArgumentException($"EventLogOptions.JournalBytes is {options.JournalBytes}; use 0 (no journal) or at least {CommitJournal.MinimumBytes} bytes.", nameof(options));
        }

        CommitJournal? journal = null;
        try
        {
            // Read before the partitions open: their tail recovery needs to know what the journal restores.
            var contents = JournalContents.Empty;
            if (options.JournalBytes > 0 || File.Exists(Path.Combine(directory, CommitJournal.FileName)))
            {
                journal = CommitJournal.Open(directory, options.JournalBytes, out contents);
            }

            foreach (var topicDirectory in System.IO.Directory.EnumerateDirectories(directory))
            {
                var name = Path.GetFileName(topicDirectory);
                if (TopicName.IsValid(name) && TopicMetadata.TryRead(topicDirectory) is { } topicOptions)
                {
                    _topics[name] = OpenTopic(name, topicDirectory, topicOptions, contents);
                }
            }

            Cursors = CursorStore.Open(Path.Combine(directory, CursorFileName));
            if (journal is not null)
            {
                Replay(contents);
                journal.StartCycle();
                if (options.JournalBytes == 0)
                {
                    journal.Dispose();
                    journal = null;
                    File.Delete(Path.Combine(directory, CommitJournal.FileName));
                    DurableFile.FlushDirectory(directory);
                }
            }
        }
        catch
        {
            foreach (var topic in _topics.Values)
            {
                topic.Dispose();
            }

            Cursors?.Dispose();
            journal?.Dispose();
            _lock.Dispose();
            throw;
        }

        _writer = new LogWriter(options.CommitPolicy, options.Durability, options.MaxQueuedBytes, journal, options.Logger);
        _retentionLoop = options.RetentionInterval is { } interval ? RunRetentionAsync(interval) : Task.CompletedTask;
    }

    /// <summary>The log's directory.</summary>
    public string Directory { get; }

    /// <summary>The options the log was opened with.</summary>
    public EventLogOptions Options { get; }

    /// <summary>The durable consumer positions kept beside the topics.</summary>
    public CursorStore Cursors { get; }

    /// <summary>Counters of the writer's group commits.</summary>
    public CommitMetrics CommitMetrics => _writer.Metrics;

    /// <summary>The names of the topics.</summary>
    public ICollection<string> TopicNames => _topics.Keys;

    /// <summary>
    /// Opens the log in <paramref name="directory"/> (creating it when missing), recovering every
    /// partition: torn tails are truncated, missing or stale indexes rebuilt; throws
    /// <see cref="Recovery.LogCorruptionException"/> when damage is found that a crash cannot explain.
    /// </summary>
    public static EventLog Open(string directory, EventLogOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        System.IO.Directory.CreateDirectory(directory);
        return new EventLog(Path.GetFullPath(directory), options ?? EventLogOptions.Default);
    }

    /// <summary>Creates a topic, or returns quietly when it exists with the same options; throws when it exists with others.</summary>
    public void CreateTopic(string name, TopicOptions? options = null)
    {
        ThrowIfDisposed();
        TopicName.Validate(name, nameof(name));
        options ??= new TopicOptions();
        options.Validate();
        if (options.Encrypted && Options.Keyring is null)
        {
            throw new ArgumentException($"Topic {name} is to be encrypted, but the log was opened without a keyring (EventLogOptions.Keyring).", nameof(options));
        }

        lock (_topicsLock)
        {
            if (_topics.TryGetValue(name, out var existing))
            {
                if (existing.Options != options)
                {
                    throw new InvalidOperationException($"Topic {name} exists with other options ({existing.Options.Partitions} partitions).");
                }

                return;
            }

            var topicDirectory = Path.Combine(Directory, name);
            System.IO.Directory.CreateDirectory(topicDirectory);
            var topic = OpenTopic(name, topicDirectory, options);
            try
            {
                TopicMetadata.Write(topicDirectory, options);
                DurableFile.FlushDirectory(Directory);
            }
            catch
            {
                topic.Dispose();
                throw;
            }

            _topics[name] = topic;
        }
    }

    /// <summary>The options of an existing topic.</summary>
    public TopicOptions GetTopicOptions(string topic) => Topic(topic).Options;

    /// <summary>The offsets a partition holds now.</summary>
    public PartitionBounds GetBounds(string topic, int partition)
    {
        var log = Topic(topic).Partition(partition);
        return new PartitionBounds(log.StartOffset, log.NextOffset);
    }

    /// <summary>Appends one record; completes with its offset once it is durable.</summary>
    public async ValueTask<long> AppendAsync(string topic, int partition, AppendRecord record, CancellationToken cancellationToken = default)
        => (await AppendAsync(topic, partition, [record], cancellationToken).ConfigureAwait(false)).FirstOffset;

    /// <summary>
    /// Appends records to one partition, with consecutive offsets; completes once all are durable.
    /// Cancellation is observed only until the records are queued: after that they are committed regardless.
    /// </summary>
    public async ValueTask<AppendResult> AppendAsync(string topic, int partition, IReadOnlyList<AppendRecord> records, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(records);
        var log = Topic(topic).Partition(partition);
        if (records.Count == 0)
        {
            throw new ArgumentException("An append needs at least one record.", nameof(records));
        }

        long bytes = 0;
        for (var i = 0; i < records.Count; i++)
        {
            bytes += MeasureRecord(records[i], nameof(records), i);
        }

        await _writer.AdmitAsync(bytes, cancellationToken).ConfigureAwait(false);
        var staged = new List<(PartitionLog, EncodedBatch)>(1);
        Task durable;
        long first;
        var span = AsSpan(records, out var rented);
        try
        {
            lock (log.AppendLock)
            {
                first = Stage(log, span, staged);
                durable = _writer.EnqueueCall(staged, bytes);
            }
        }
        catch
        {
            Unstage(staged, bytes);
            throw;
        }
        finally
        {
            ReturnRented(rented);
        }

        await durable.ConfigureAwait(false);
        return new AppendResult(first, first + records.Count - 1);
    }

    /// <summary>
    /// Appends records spread over any partitions of any topics as one group: completes, with each
    /// record's offset in the order given, once every one of them is durable (one shared commit).
    /// </summary>
    public async ValueTask<long[]> AppendAsync(IReadOnlyList<AppendRequest> requests, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(requests);
        if (requests.Count == 0)
        {
            throw new ArgumentException("An append needs at least one record.", nameof(requests));
        }

        // Validate everything before any offset is given, so a bad request leaves no trace.
        var partitions = new PartitionLog[requests.Count];
        var groups = new Dictionary<PartitionLog, int>();
        long bytes = 0;
        for (var i = 0; i < requests.Count; i++)
        {
            var request = requests[i];
            partitions[i] = Topic(request.Topic).Partition(request.Partition);
            bytes += MeasureRecord(request.Record, nameof(requests), i);
            CollectionsMarshal.GetValueRefOrAddDefault(groups, partitions[i], out _)++;
        }

        await _writer.AdmitAsync(bytes, cancellationToken).ConfigureAwait(false);
        var offsets = new long[requests.Count];
        var ordered = new PartitionLog[groups.Count];
        groups.Keys.CopyTo(ordered, 0);
        Array.Sort(ordered, static (a, b) => a.LockOrder.CompareTo(b.LockOrder));
        var staged = new List<(PartitionLog, EncodedBatch)>(ordered.Length);
        Task durable;
        var locked = 0;
        try
        {
            // All partitions are locked while the call is staged and queued, so it lands in one commit
            // and no other append can slip between its offsets and its place in the queue.
            for (; locked < ordered.Length; locked++)
            {
                ordered[locked].AppendLock.Enter();
            }

            foreach (var partition in ordered)
            {
                StageGroup(partition, groups[partition], requests, partitions, offsets, staged);
            }

            durable = _writer.EnqueueCall(staged, bytes);
        }
        catch
        {
            Unstage(staged, bytes);
            throw;
        }
        finally
        {
            while (locked > 0)
            {
                ordered[--locked].AppendLock.Exit();
            }
        }

        await durable.ConfigureAwait(false);
        return offsets;
    }

    private void StageGroup(PartitionLog partition, int count, IReadOnlyList<AppendRequest> requests, PartitionLog[] partitions, long[] offsets, List<(PartitionLog, EncodedBatch)> staged)
    {
        var records = ArrayPool<AppendRecord>.Shared.Rent(count);
        var indexes = ArrayPool<int>.Shared.Rent(count);
        try
        {
            var n = 0;
            for (var i = 0; i < requests.Count; i++)
            {
                if (partitions[i] == partition)
                {
                    indexes[n] = i;
                    records[n++] = requests[i].Record;
                }
            }

            var first = Stage(partition, records.AsSpan(0, n), staged);
            for (var k = 0; k < n; k++)
            {
                offsets[indexes[k]] = first + k;
            }
        }
        finally
        {
            ArrayPool<AppendRecord>.Shared.Return(records, clearArray: true);
            ArrayPool<int>.Shared.Return(indexes);
        }
    }

    /// <summary>
    /// Reads records of a partition from <paramref name="fromOffset"/>: whole batches, about
    /// <paramref name="maxBytes"/> of them, at least one. An empty result at the partition's end;
    /// <see cref="OffsetOutOfRangeException"/> before its start or past its end.
    /// Dispose the result to return its buffers.
    /// </summary>
    public LogReadResult Read(string topic, int partition, long fromOffset, int maxBytes = DefaultReadBytes)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        return Topic(topic).Partition(partition).Read(fromOffset, maxBytes, Options.Keyring);
    }

    /// <summary>The offset of the first record appended at or after <paramref name="timestamp"/> (the next offset when none was).</summary>
    public long FindOffset(string topic, int partition, DateTimeOffset timestamp)
    {
        ThrowIfDisposed();
        var log = Topic(topic).Partition(partition);
        var offset = log.FindOffset(timestamp.ToUnixTimeMilliseconds());
        return Math.Max(offset, log.StartOffset);
    }

    /// <summary>Reads records appended at or after <paramref name="timestamp"/>, as <see cref="Read"/> does from an offset.</summary>
    public LogReadResult ReadFromTimestamp(string topic, int partition, DateTimeOffset timestamp, int maxBytes = DefaultReadBytes)
        => Read(topic, partition, FindOffset(topic, partition, timestamp), maxBytes);

    /// <summary>
    /// Completes once every record appended before the call is on stable storage. Under the default
    /// <see cref="Durability.Fsync"/> that is already so; under <see cref="Durability.OsCache"/> it
    /// fsyncs what was written since the last flush (one call serves every topic).
    /// </summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return new ValueTask(_writer.EnqueueFlush().WaitAsync(cancellationToken));
    }

    /// <summary>Completes (without polling) when the partition holds a record at or past <paramref name="offset"/>.</summary>
    public ValueTask WaitForDataAsync(string topic, int partition, long offset, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return Topic(topic).Partition(partition).WaitForDataAsync(offset, cancellationToken);
    }

    /// <summary>Applies every topic's retention now, calling <see cref="EventLogOptions.BeforeSegmentDeleted"/> before each deletion.</summary>
    public async ValueTask<RetentionReport> ApplyRetentionAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        // One pass at a time, so the hook is never called twice for one segment; closing the log cancels it.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        cancellationToken = cancel.Token;
        await _retentionPass.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = Options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            int segments = 0;
            long bytes = 0;
            foreach (var topic in _topics.Values)
            {
                var report = await RetentionEnforcer.ApplyAsync(topic, Options.BeforeSegmentDeleted, now, Options.Logger, cancellationToken).ConfigureAwait(false);
                segments += report.SegmentsDeleted;
                bytes += report.BytesDeleted;
            }

            return new RetentionReport(segments, bytes);
        }
        finally
        {
            _retentionPass.Release();
        }
    }

    /// <summary>Stops accepting appends, commits those queued, makes everything durable and closes the files.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        try
        {
            _retentionLoop.GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
        }

        _retentionPass.Wait(); // a pass started by a caller ends (cancelled) before its segments close
        _writer.Dispose();
        foreach (var topic in _topics.Values)
        {
            foreach (var partition in topic.Partitions)
            {
                partition.FlushAll();
            }

            topic.Dispose();
        }

        Cursors.Dispose();
        _stopping.Dispose();
        _retentionPass.Dispose();
        _lock.Dispose();
    }

    /// <summary>Closes the log as <see cref="Dispose"/> does.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// On open: writes back, in commit order, every journaled batch a partition lacks (a crash or power loss
    /// before its segment was fsynced), then makes those partitions durable.
    /// </summary>
    private void Replay(JournalContents contents)
    {
        var replayed = new HashSet<PartitionLog>();
        foreach (var entry in contents.Entries)
        {
            if (!_topics.TryGetValue(entry.Topic, out var topic) || entry.Partition < 0 || entry.Partition >= topic.Partitions.Length)
            {
                throw new LogCorruptionException(contents.Path, 0, $"the journal holds a batch of {entry.Topic}/{entry.Partition}, which the log does not have");
            }

            var partition = topic.Partition(entry.Partition);
            if (partition.Replay(entry.Batch, contents.Path))
            {
                replayed.Add(partition);
            }
        }

        foreach (var partition in replayed)
        {
            partition.FlushData();
            partition.Publish();
        }

        if (contents.RecordCount > 0 || contents.End is not null)
        {
            LogJournalRead(Options.Logger, contents.Path, contents.RecordCount, contents.Entries.Count, replayed.Count, contents.End ?? "the end");
        }
    }

    private TopicLog OpenTopic(string name, string topicDirectory, TopicOptions options, JournalContents? journal = null)
    {
        if (options.Encrypted && Options.Keyring is null)
        {
            throw new InvalidOperationException($"Topic {name} is encrypted; open the log with its keyring (EventLogOptions.Keyring).");
        }

        var codec = new BatchCodec(options.Compression, options.Encrypted ? Options.Keyring : null);
        var partitions = new PartitionLog[options.Partitions];
        try
        {
            for (var i = 0; i < partitions.Length; i++)
            {
                partitions[i] = PartitionLog.Open(name, i, topicDirectory, options, codec, _maxBatchBytes, Options.Logger, journal?.CoveredFrom(name, i));
            }
        }
        catch
        {
            foreach (var partition in partitions)
            {
                partition?.Dispose();
            }

            throw;
        }

        return new TopicLog(name, topicDirectory, options, codec, partitions);
    }

    private TopicLog Topic(string name)
    {
        if (name is null || !_topics.TryGetValue(name, out var topic))
        {
            TopicName.Validate(name);
            throw new KeyNotFoundException($"Topic {name} does not exist; create it first.");
        }

        return topic;
    }

    private int MeasureRecord(in AppendRecord record, string parameterName, int index)
    {
        var size = RecordCodec.EncodedSize(record);
        if (size < 0 || size > Options.MaxRecordBytes)
        {
            throw new ArgumentException($"Record {index} encodes to {(size < 0 ? "more than a field allows" : size + " bytes")}; the limit is {Options.MaxRecordBytes} bytes (EventLogOptions.MaxRecordBytes), header names 65,535 bytes and header counts 65,535.", parameterName);
        }

        return size;
    }

    /// <summary>
    /// Gives offsets and encodes batches of at most <see cref="BatchTargetBytes"/> (a record larger than
    /// that gets its own batch) into <paramref name="staged"/>; call under the partition's append lock.
    /// </summary>
    private long Stage(PartitionLog partition, ReadOnlySpan<AppendRecord> records, List<(PartitionLog, EncodedBatch)> staged)
    {
        var now = Options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var first = partition.AssignOffsets(records.Length, now, out var timestamp);
        int start = 0, bytes = 0;
        for (var i = 0; i < records.Length; i++)
        {
            var size = RecordCodec.EncodedSize(records[i]);
            if (i > start && bytes + size > BatchTargetBytes)
            {
                staged.Add((partition, BatchEncoder.Encode(records[start..i], bytes, first + start, timestamp, partition.Codec)));
                start = i;
                bytes = 0;
            }

            bytes += size;
        }

        staged.Add((partition, BatchEncoder.Encode(records[start..], bytes, first + start, timestamp, partition.Codec)));
        return first;
    }

    /// <summary>Gives back what a call that failed before it was queued had taken.</summary>
    private void Unstage(List<(PartitionLog, EncodedBatch Batch)> staged, long admittedBytes)
    {
        foreach (var (_, batch) in staged)
        {
            ArrayPool<byte>.Shared.Return(batch.Buffer);
        }

        _writer.Release(admittedBytes);
    }

    private static ReadOnlySpan<AppendRecord> AsSpan(IReadOnlyList<AppendRecord> records, out AppendRecord[]? rented)
    {
        rented = null;
        switch (records)
        {
            case AppendRecord[] array:
                return array;
            case List<AppendRecord> list:
                return CollectionsMarshal.AsSpan(list);
            default:
                rented = ArrayPool<AppendRecord>.Shared.Rent(records.Count);
                for (var i = 0; i < records.Count; i++)
                {
                    rented[i] = records[i];
                }

                return rented.AsSpan(0, records.Count);
        }
    }

    private static void ReturnRented(AppendRecord[]? rented)
    {
        if (rented is not null)
        {
            ArrayPool<AppendRecord>.Shared.Return(rented, clearArray: true);
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private async Task RunRetentionAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval, Options.TimeProvider);
        while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
        {
            try
            {
                await ApplyRetentionAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogRetentionFailed(Options.Logger, e);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Commit journal {Path}: {Records} records of the last cycle read ({Batches} batches, up to {End}); {Partitions} partitions lacked batches and got them back.")]
    private static partial void LogJournalRead(ILogger logger, string path, int records, int batches, int partitions, string end);

    [LoggerMessage(Level = LogLevel.Error, Message = "A retention pass failed; the segments it had not deleted are kept and retried on the next pass.")]
    private static partial void LogRetentionFailed(ILogger logger, Exception exception);
}
