using System.Buffers;
using System.Diagnostics;
using Halfhour.Log.Batches;
using Halfhour.Log.Topics;
using Microsoft.Extensions.Logging;

namespace Halfhour.Log.Commit;

/// <summary>
/// The log's single writer: one thread that takes every pending batch of every partition, writes each
/// to its partition's active segment, fsyncs each file written, and only then acknowledges the appends
/// and shows the records to readers. Appends arriving while a commit runs form the next group, so
/// concurrent producers share fsyncs.
/// Failure semantics: an append is acknowledged only after the fsync of every file holding its records
/// (in <see cref="Durability.Fsync"/>). If a write or fsync fails, the pages' state is unknown, so the
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
    private readonly long _maxQueuedBytes;
    private readonly ILogger _logger;
    private readonly Thread _thread;
    private List<(PartitionLog Partition, EncodedBatch Batch)> _writes = [];
    private List<(TaskCompletionSource Done, long Bytes)> _acks = [];
    private long _pendingBytes;
    private long _admittedBytes;
    private int _openCalls;
    private bool _stopping;
    private Exception? _fault;

    public LogWriter(CommitPolicy policy, Durability durability, long maxQueuedBytes, ILogger logger)
    {
        _policy = policy;
        _durability = durability;
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

    /// <summary>Starts an append call; every <see cref="BeginCall"/> is followed by <see cref="EndCall"/> or <see cref="AbandonCall"/>.</summary>
    public void BeginCall()
    {
        lock (_gate)
        {
            ThrowIfUnusable();
            _openCalls++;
        }
    }

    /// <summary>Queues a batch (under its partition's append lock, so queue order is offset order).</summary>
    public void Enqueue(PartitionLog partition, in EncodedBatch batch)
    {
        lock (_gate)
        {
            _writes.Add((partition, batch));
            _pendingBytes += batch.Length;
        }

        _work.Set();
    }

    /// <summary>Ends a call whose batches are all queued: the task completes once they are all durable.</summary>
    public Task EndCall(long admittedBytes)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _openCalls--;
            _acks.Add((done, admittedBytes));
        }

        _work.Set();
        return done.Task;
    }

    /// <summary>Ends a call that queued nothing.</summary>
    public void AbandonCall(long admittedBytes)
    {
        lock (_gate)
        {
            _openCalls--;
            _admittedBytes -= admittedBytes;
            AdmitWaiters();
        }

        _work.Set();
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
        var lastFlush = TimeSpan.Zero;
        long lastCommitBytes = 0;
        while (true)
        {
            _work.Reset();
            bool hasWork, stop;
            lock (_gate)
            {
                hasWork = _writes.Count > 0 || _acks.Count > 0;
                stop = _stopping && !hasWork && _openCalls == 0;
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
                _pendingBytes = 0;
            }

            var (bytes, flush) = Commit(spareWrites, spareAcks, dirty);
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

            var delay = _policy.DelayBeforeCommit(window);
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
        var failure = Volatile.Read(ref _fault);
        if (failure is null)
        {
            try
            {
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

                var flushStarted = Stopwatch.GetTimestamp();
                if (_durability == Durability.Fsync)
                {
                    foreach (var partition in dirty)
                    {
                        partition.FlushData();
                    }
                }

                flush = Stopwatch.GetElapsedTime(flushStarted);
                foreach (var partition in dirty)
                {
                    partition.Publish();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
            {
                failure = e;
                Volatile.Write(ref _fault, e);
                LogWriterFailed(_logger, e);
            }
        }

        foreach (var partition in dirty)
        {
            partition.IsDirty = false;
        }

        Metrics.Record(acks.Count, bytes, failure is null && _durability == Durability.Fsync ? dirty.Count : 0, flush);
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
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "The log writer failed; appends are refused until the log is reopened.")]
    private static partial void LogWriterFailed(ILogger logger, Exception exception);
}
