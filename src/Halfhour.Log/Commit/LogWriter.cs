using System.Buffers;
using System.Diagnostics;
using Halfhour.Log.Batches;
using Halfhour.Log.Topics;
using Microsoft.Extensions.Logging;

namespace Halfhour.Log.Commit;

/// <summary>
/// The log's single writer: one thread that takes every pending batch of every partition, writes the
/// group as one record to the <see cref="CommitJournal"/> and syncs that one file, then writes each batch
/// to its partition's active segment, and only then acknowledges the appends and shows the records to
/// readers. Appends arriving while a commit runs form the next group, so concurrent producers share the
/// sync. Segment files are fsynced at checkpoints (when the journal is full, and at close); without a
/// journal, or for a group larger than it, every file written is fsynced before the acknowledgement.
/// Failure semantics: an append is acknowledged only once its records are on stable storage, in the
/// journal or in their segments (in <see cref="Durability.Fsync"/>). If a write or sync fails, the pages' state is unknown, so the
/// writer fails that group and every later append; the log must be reopened, and recovery then keeps
/// exactly the batches that reached the disk whole. A crash mid-commit leaves unacknowledged batches,
/// whole or torn, which recovery keeps or truncates.
/// </summary>
internal sealed partial class LogWriter : IDisposable
{
    private readonly Lock _gate = new();
    private readonly ManualResetEventSlim _work = new(false);
    private readonly Queue<(long Bytes, TaskCompletionSource Admitted)> _admissionWaiters = new();
    private readonly CommitPolicy _policy;
    private readonly Durability _durability;
    private readonly CommitJournal? _journal;

    /// <summary>Writer thread only: partitions written through the journal since the last checkpoint.</summary>
    private readonly List<PartitionLog> _sinceCheckpoint = [];

    /// <summary>Writer thread only: partitions written but not fsynced since the last explicit flush (OsCache mode).</summary>
    private readonly List<PartitionLog> _unflushed = [];
    private List<TaskCompletionSource> _flushRequests = [];
    private readonly long _maxQueuedBytes;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private List<(PartitionLog Partition, EncodedBatch Batch)> _writes = [];
    private List<(TaskCompletionSource Done, long Bytes)> _acks = [];
    private long _pendingBytes;
    private long _admittedBytes;
    private bool _stopping;
    private Exception? _fault;

    public LogWriter(CommitPolicy policy, Durability durability, long maxQueuedBytes, CommitJournal? journal, ILogger logger)
    {
        _policy = policy;
        _durability = durability;
        _journal = journal;
        _maxQueuedBytes = maxQueuedBytes;
        _logger = logger;
        _thread = new Thread(Run) { IsBackground = true, Name = "halfhour-log-writer" };
        _thread.Start();
    }

    public CommitMetrics Metrics { get; } = new();

    /// <summary>Waits until <paramref name="bytes"/> may be queued (back-pressure); a call larger than the whole budget waits for an empty queue.</summary>
    public ValueTask AdmitAsync(long bytes, CancellationToken cancellationToken)
    {
        TaskCompletionSource admitted;
        lock (_gate)
        {
            ThrowIfUnusable();
            if (_admissionWaiters.Count == 0 && (_admittedBytes == 0 || _admittedBytes + bytes <= _maxQueuedBytes))
            {
                _admittedBytes += bytes;
                return ValueTask.CompletedTask;
            }

            admitted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _admissionWaiters.Enqueue((bytes, admitted));
        }

        return WaitAdmittedAsync(admitted, bytes, cancellationToken);
    }

    private async ValueTask WaitAdmittedAsync(TaskCompletionSource admitted, long bytes, CancellationToken cancellationToken)
    {
        try
        {
            await admitted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // If admission raced with the cancellation, give the bytes back.
            if (!admitted.TrySetCanceled(cancellationToken))
            {
                Release(bytes);
            }

            throw;
        }
    }

    /// <summary>Gives back admitted bytes when an append ends without being queued (validation failure, cancellation).</summary>
    public void Release(long bytes)
    {
        lock (_gate)
        {
            _admittedBytes -= bytes;
            AdmitWaiters();
        }
    }

    /// <summary>
    /// Queues the batches of one append call, all at once, so they share one commit; call it under the
    /// append locks of their partitions, so queue order is offset order. The task completes once they
    /// are all durable.
    /// </summary>
    public Task EnqueueCall(List<(PartitionLog Partition, EncodedBatch Batch)> batches, long admittedBytes)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            ThrowIfUnusable();
            foreach (var item in batches)
            {
                _writes.Add(item);
                _pendingBytes += item.Batch.Length;
            }

            _acks.Add((done, admittedBytes));

            // Set under the gate: once Dispose has seen the queue, no one touches the event again.
            _work.Set();
        }

        return done.Task;
    }

    /// <summary>
    /// Completes once everything written before the call is on stable storage: a no-op wait under
    /// <see cref="Durability.Fsync"/>, an fsync of every partition written since the last flush under
    /// <see cref="Durability.OsCache"/> (for writers that checkpoint derived data).
    /// </summary>
    public Task EnqueueFlush()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            ThrowIfUnusable();
            _flushRequests.Add(done);
            _work.Set();
        }

        return done.Task;
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_stopping, typeof(EventLog));
        if (_fault is not null)
        {
            throw new IOException("The log's writer failed earlier; reopen the log to recover.", _fault);
        }
    }

    private void Run()
    {
        var spareWrites = new List<(PartitionLog Partition, EncodedBatch Batch)>();
        var spareAcks = new List<(TaskCompletionSource Done, long Bytes)>();
        var dirty = new List<PartitionLog>();
        var spareFlushes = new List<TaskCompletionSource>();
        var lastFlush = TimeSpan.Zero;
        long lastCommitBytes = 0;
        while (true)
        {
            _work.Reset();
            bool hasWork, stop;
            lock (_gate)
            {
                hasWork = _writes.Count > 0 || _acks.Count > 0 || _flushRequests.Count > 0;
                stop = _stopping && !hasWork;
            }

            if (stop)
            {
                return;
            }

            if (!hasWork)
            {
                _work.Wait();
                continue;
            }

            HoldBackForPolicy(lastFlush, lastCommitBytes);
            lock (_gate)
            {
                (_writes, spareWrites) = (spareWrites, _writes);
                (_acks, spareAcks) = (spareAcks, _acks);
                (_flushRequests, spareFlushes) = (spareFlushes, _flushRequests);
                _pendingBytes = 0;
            }

            var (bytes, flush) = Commit(spareWrites, spareAcks, dirty);
            CompleteFlushes(spareFlushes);
            if (bytes > 0)
            {
                lastCommitBytes = bytes;
                lastFlush = flush;
            }
        }
    }

    private void HoldBackForPolicy(TimeSpan lastFlush, long lastCommitBytes)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            CommitWindow window;
            lock (_gate)
            {
                if (_stopping)
                {
                    return;
                }

                window = new CommitWindow(_pendingBytes, _acks.Count, Stopwatch.GetElapsedTime(started), lastFlush, lastCommitBytes);
            }

            TimeSpan delay;
            try
            {
                delay = _policy.DelayBeforeCommit(window);
            }
            catch (Exception e)
            {
                LogPolicyFailed(_logger, e); // a broken policy must not stop commits: commit now
                return;
            }

            if (delay <= TimeSpan.Zero)
            {
                return;
            }

            _work.Reset();
            _work.Wait(delay);
        }
    }

    private (long Bytes, TimeSpan Flush) Commit(List<(PartitionLog Partition, EncodedBatch Batch)> writes, List<(TaskCompletionSource Done, long Bytes)> acks, List<PartitionLog> dirty)
    {
        long bytes = 0;
        var flush = TimeSpan.Zero;
        var syncs = 0;
        var failure = Volatile.Read(ref _fault);
        if (failure is null)
        {
            try
            {
                var flushStarted = Stopwatch.GetTimestamp();
                var journaled = Journal(writes);
                if (journaled && _durability == Durability.Fsync)
                {
                    // Durable before any batch reaches a segment: whatever a segment holds past its last
                    // checkpoint, the journal holds too, so recovery can tell a torn write from damage.
                    _journal!.Sync();
                    syncs = 1;
                }

                flush = Stopwatch.GetElapsedTime(flushStarted);
                foreach (var (partition, batch) in writes)
                {
                    partition.Write(batch);
                    bytes += batch.Length;
                    if (!partition.IsDirty)
                    {
                        partition.IsDirty = true;
                        dirty.Add(partition);
                    }
                }

                if (!journaled && _durability == Durability.Fsync && writes.Count > 0)
                {
                    flushStarted = Stopwatch.GetTimestamp();
                    FlushTogether(dirty);
                    flush += Stopwatch.GetElapsedTime(flushStarted);
                    syncs = dirty.Count;
                }

                foreach (var partition in dirty)
                {
                    partition.Publish();
                    if (journaled)
                    {
                        if (!partition.WrittenSinceCheckpoint)
                        {
                            partition.WrittenSinceCheckpoint = true;
                            _sinceCheckpoint.Add(partition);
                        }
                    }
                    else if (_durability == Durability.OsCache && !_unflushed.Contains(partition))
                    {
                        _unflushed.Add(partition);
                    }
                }
            }
            catch (Exception e)
            {
                // Whatever failed (I/O, a full disk, a bug), the group's durability is unknown: fail it
                // and every later append rather than take the host down from the writer thread.
                failure = e;
                Volatile.Write(ref _fault, e);
                LogWriterFailed(_logger, e);
            }
        }

        foreach (var partition in dirty)
        {
            partition.IsDirty = false;
        }

        Metrics.Record(acks.Count, bytes, failure is null ? syncs : 0, flush);
        dirty.Clear();
        foreach (var (_, batch) in writes)
        {
            ArrayPool<byte>.Shared.Return(batch.Buffer);
        }

        writes.Clear();
        long released = 0;
        foreach (var (done, admitted) in acks)
        {
            released += admitted;
            if (failure is null)
            {
                done.TrySetResult();
            }
            else
            {
                done.TrySetException(new IOException("The log could not make this append durable; reopen the log to recover.", failure));
            }
        }

        acks.Clear();
        Release(released);
        return (bytes, flush);
    }

    /// <summary>Writer thread: answers flush requests once what was written before them is durable.</summary>
    private void CompleteFlushes(List<TaskCompletionSource> requests)
    {
        if (requests.Count == 0)
        {
            return;
        }

        var failure = Volatile.Read(ref _fault);
        if (failure is null)
        {
            try
            {
                _journal?.Sync();
                FlushTogether(_unflushed);
                _unflushed.Clear();
            }
            catch (Exception e)
            {
                failure = e;
                Volatile.Write(ref _fault, e);
                LogWriterFailed(_logger, e);
            }
        }

        foreach (var request in requests)
        {
            if (failure is null)
            {
                request.TrySetResult();
            }
            else
            {
                request.TrySetException(new IOException("The log could not flush; reopen the log to recover.", failure));
            }
        }

        requests.Clear();
    }

    /// <summary>
    /// Writes the group to the journal (checkpointing first when the journal is full); false when there is
    /// no journal or the group is larger than it, and the group's files must be fsynced themselves.
    /// </summary>
    private bool Journal(List<(PartitionLog Partition, EncodedBatch Batch)> writes)
    {
        if (_journal is null || writes.Count == 0)
        {
            return false;
        }

        var size = CommitJournal.RecordSize(writes);
        if (size > _journal.MaxRecordBytes || !_journal.HasRoom(size))
        {
            Checkpoint();
        }

        if (size > _journal.MaxRecordBytes)
        {
            return false;
        }

        _journal.Write(writes, size);
        return true;
    }

    /// <summary>
    /// Writer thread: fsyncs every partition written through the journal since the last checkpoint, then
    /// starts a new journal cycle (what the old one held is now in the segments).
    /// </summary>
    private void Checkpoint()
    {
        FlushTogether(_sinceCheckpoint);
        foreach (var partition in _sinceCheckpoint)
        {
            partition.WrittenSinceCheckpoint = false;
        }

        _sinceCheckpoint.Clear();
        _journal!.StartCycle();
    }

    /// <summary>
    /// fsyncs the files of a commit concurrently: ext4 and xfs fold concurrent fsyncs into one journal
    /// commit, so N partitions cost about one fsync's latency rather than N in a row.
    /// </summary>
    private static void FlushTogether(List<PartitionLog> dirty)
    {
        if (dirty.Count == 0)
        {
            return;
        }

        if (dirty.Count == 1)
        {
            dirty[0].FlushData();
            return;
        }

        Parallel.For(0, dirty.Count, new ParallelOptions { MaxDegreeOfParallelism = dirty.Count }, i => dirty[i].FlushData());
    }

    private void AdmitWaiters()
    {
        while (_admissionWaiters.TryPeek(out var waiter))
        {
            if (waiter.Admitted.Task.IsCompleted)
            {
                _admissionWaiters.Dequeue(); // cancelled while waiting
                continue;
            }

            if (_admittedBytes != 0 && _admittedBytes + waiter.Bytes > _maxQueuedBytes && _fault is null && !_stopping)
            {
                return;
            }

            _admissionWaiters.Dequeue();
            if (waiter.Admitted.TrySetResult())
            {
                _admittedBytes += waiter.Bytes;
            }
        }
    }

    /// <summary>Stops accepting appends, commits what is queued, and waits for the writer thread to end.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_stopping)
            {
                return;
            }

            _stopping = true;
            AdmitWaiters();
        }

        _work.Set();
        _thread.Join();
        _work.Dispose();
        if (_journal is not null)
        {
            // A clean close leaves nothing to replay; after a failure the journal keeps what recovery needs.
            if (_fault is null)
            {
                try
                {
                    Checkpoint();
                }
                catch (Exception e)
                {
                    LogWriterFailed(_logger, e);
                }
            }

            _journal.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The commit policy threw; committing without waiting.")]
    private static partial void LogPolicyFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The log writer failed; appends are refused until the log is reopened.")]
    private static partial void LogWriterFailed(ILogger logger, Exception exception);
}
