using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Halfhour.Log.Internal;
using Halfhour.Log.Recovery;
using Microsoft.Win32.SafeHandles;

namespace Halfhour.Log.Cursors;

/// <summary>A consumer position: the next offset a subscription will read from a partition of a topic.</summary>
public readonly record struct CursorPosition(string Subscription, string Topic, int Partition, long Offset);

/// <summary>
/// The durable store of named cursors (subscription → topic partition → offset), kept as an
/// append-only journal of checksummed entries, each a set of positions committed atomically, and
/// compacted into a fresh journal when it grows well past its live contents.
/// Failure semantics: an entry is appended and fsynced before its commit returns; commits that arrive
/// while one is written share the next write and fsync (group commit). A crash can leave
/// a torn last entry, dropped on open; damage before the last entry is reported as
/// <see cref="LogCorruptionException"/>. Compaction writes the live set to a temp file, fsyncs it,
/// renames it over the journal and fsyncs the directory: the journal is always the old or the new one.
/// </summary>
public sealed class CursorStore : IDisposable
{
    /// <summary>
    /// Compact once the journal exceeds 4x its size after the last compaction (and 1 MiB): rewriting costs the live size,
    /// so commits pay at most ~1/3 extra bytes on average, and the journal stays small.
    /// </summary>
    private const long CompactionFloorBytes = 1 << 20;

    private const int CompactionFactor = 4;
    private const int EntryHeaderBytes = 4 + 8; // length, XxHash3 of the payload
    private const byte SetEntry = 1;
    private const byte DeleteEntry = 2;

    /// <summary>The largest entry: bounds what a torn write can explain at the tail (anything longer is corruption).</summary>
    private const int MaxEntryBytes = 16 << 20;

    private readonly string _path;
    private sealed record PendingEntry(byte Kind, IReadOnlyList<CursorPosition> Positions, int Bytes, TaskCompletionSource Done);

    /// <summary>Held while the journal file is written, compacted or closed.</summary>
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Lock _pendingLock = new();
    private List<PendingEntry> _pending = [];
    private bool _flushing;
    private readonly Dictionary<(string Subscription, string Topic, int Partition), long> _positions = [];
    private SafeFileHandle _journal;
    private long _length;
    private long _compactedLength;
    private bool _disposed;

    private CursorStore(string path)
    {
        _path = path;
        _journal = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        Replay();
    }

    /// <summary>Opens (or creates) the cursor journal at <paramref name="path"/>.</summary>
    public static CursorStore Open(string path) => new(path);

    /// <summary>The committed offset of a subscription on a partition, or null when it has none.</summary>
    public long? Get(string subscription, string topic, int partition)
    {
        lock (_positions)
        {
            return _positions.TryGetValue((subscription, topic, partition), out var offset) ? offset : null;
        }
    }

    /// <summary>Every committed position of a subscription.</summary>
    public IReadOnlyList<CursorPosition> GetAll(string subscription)
    {
        var found = new List<CursorPosition>();
        lock (_positions)
        {
            foreach (var ((sub, topic, partition), offset) in _positions)
            {
                if (sub == subscription)
                {
                    found.Add(new CursorPosition(sub, topic, partition, offset));
                }
            }
        }

        return found;
    }

    /// <summary>Commits one position durably.</summary>
    public ValueTask CommitAsync(string subscription, string topic, int partition, long offset, CancellationToken cancellationToken = default)
        => CommitAsync([new CursorPosition(subscription, topic, partition, offset)], cancellationToken);

    /// <summary>Commits several positions atomically (all or none after a crash) with one fsync.</summary>
    public async ValueTask CommitAsync(IReadOnlyList<CursorPosition> positions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(positions);
        foreach (var position in positions)
        {
            ArgumentException.ThrowIfNullOrEmpty(position.Subscription, nameof(positions));
            ArgumentException.ThrowIfNullOrEmpty(position.Topic, nameof(positions));
            ArgumentOutOfRangeException.ThrowIfNegative(position.Partition, nameof(positions));
            ArgumentOutOfRangeException.ThrowIfNegative(position.Offset, nameof(positions));
        }

        await WriteEntryAsync(SetEntry, positions, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets every position of a subscription, durably.</summary>
    public ValueTask DeleteAsync(string subscription, CancellationToken cancellationToken = default)
        => WriteEntryAsync(DeleteEntry, [new CursorPosition(subscription, "-", 0, 0)], cancellationToken);

    private ValueTask WriteEntryAsync(byte kind, IReadOnlyList<CursorPosition> positions, CancellationToken cancellationToken)
    {
        var payload = PayloadSize(positions);
        if (payload > MaxEntryBytes)
        {
            throw new ArgumentException($"A cursor commit may hold at most {MaxEntryBytes} bytes.", nameof(positions));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var entry = new PendingEntry(kind, positions, EntryHeaderBytes + payload, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        bool lead;
        lock (_pendingLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _pending.Add(entry);
            lead = !_flushing;
            _flushing = true;
        }

        if (lead)
        {
            WritePending();
        }

        return new ValueTask(entry.Done.Task.WaitAsync(cancellationToken));
    }

    /// <summary>
    /// Group commit: the caller that found no write in progress writes every entry queued meanwhile (its own and those
    /// of callers that came while it waited) with one write and one fsync. Entries that arrive during that write are
    /// written by a pool thread, not by this caller, so no caller waits for others' commits after its own. Each entry
    /// keeps its own checksum, so each stays all-or-nothing after a crash.
    /// </summary>
    private void WritePending()
    {
        _gate.Wait();
        try
        {
            List<PendingEntry> entries;
            lock (_pendingLock)
            {
                entries = _pending;
                _pending = [];
            }

            if (entries.Count > 0)
            {
                WriteTogether(entries);
            }
        }
        finally
        {
            _gate.Release();
        }

        lock (_pendingLock)
        {
            if (_pending.Count == 0)
            {
                _flushing = false;
                return;
            }
        }

        ThreadPool.UnsafeQueueUserWorkItem(static store => store.WritePending(), this, preferLocal: false);
    }

    private void WriteTogether(List<PendingEntry> entries)
    {
        var size = 0;
        foreach (var entry in entries)
        {
            size += entry.Bytes;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            ObjectDisposedException.ThrowIf(_journal.IsClosed, this);

            var length = 0;
            foreach (var entry in entries)
            {
                length += WriteEntry(entry.Kind, entry.Positions, buffer.AsSpan(length));
            }

            RandomAccess.Write(_journal, buffer.AsSpan(0, length), _length);
            RandomAccess.FlushToDisk(_journal);
            _length += length;
            lock (_positions)
            {
                foreach (var entry in entries)
                {
                    Apply(entry.Kind, entry.Positions);
                }
            }

            CompactIfLarge();
        }
        catch (Exception e)
        {
            foreach (var entry in entries)
            {
                entry.Done.TrySetException(e);
            }

            return;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        foreach (var entry in entries)
        {
            entry.Done.TrySetResult();
        }
    }

    private static int PayloadSize(IReadOnlyList<CursorPosition> positions)
    {
        var size = 1 + 4;
        foreach (var p in positions)
        {
            size += 2 + Encoding.UTF8.GetByteCount(p.Subscription) + 2 + Encoding.UTF8.GetByteCount(p.Topic) + 4 + 8;
        }

        return size;
    }

    private static int WriteEntry(byte kind, IReadOnlyList<CursorPosition> positions, Span<byte> span)
    {
        var at = EntryHeaderBytes;
        span[at++] = kind;
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], positions.Count);
        at += 4;
        foreach (var p in positions)
        {
            at += WriteString(p.Subscription, span[at..]);
            at += WriteString(p.Topic, span[at..]);
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], p.Partition);
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + 4)..], p.Offset);
            at += 12;
        }

        BinaryPrimitives.WriteInt32LittleEndian(span, at - EntryHeaderBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(span[4..], XxHash3.HashToUInt64(span[EntryHeaderBytes..at]));
        return at;
    }

    private static int WriteString(string value, Span<byte> destination)
    {
        var length = Encoding.UTF8.GetBytes(value, destination[2..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination, checked((ushort)length));
        return 2 + length;
    }

    private void Apply(byte kind, IReadOnlyList<CursorPosition> positions)
    {
        foreach (var p in positions)
        {
            if (kind == SetEntry)
            {
                _positions[(p.Subscription, p.Topic, p.Partition)] = p.Offset;
                continue;
            }

            var doomed = new List<(string, string, int)>();
            foreach (var key in _positions.Keys)
            {
                if (key.Subscription == p.Subscription)
                {
                    doomed.Add(key);
                }
            }

            foreach (var key in doomed)
            {
                _positions.Remove(key);
            }
        }
    }

    private void Replay()
    {
        var fileLength = RandomAccess.GetLength(_journal);
        var head = new byte[EntryHeaderBytes];
        long position = 0;
        while (position < fileLength)
        {
            var failure = TryReadEntry(position, fileLength, head, out var length);
            if (failure is not null)
            {
                // Only the last entry can be torn: it is short of the end of the file, or reaches it.
                var torn = fileLength - position < EntryHeaderBytes || (length is >= 5 and <= MaxEntryBytes && position + EntryHeaderBytes + length >= fileLength);
                if (!torn)
                {
                    throw new LogCorruptionException(_path, position, $"cursor journal entry has {failure}, and more data follows than a torn write can explain");
                }

                RandomAccess.SetLength(_journal, position); // its commit never returned
                RandomAccess.FlushToDisk(_journal);
                break;
            }

            position += EntryHeaderBytes + length;
        }

        _length = position;
        _compactedLength = position;
    }

    /// <summary>Reads and applies the entry at <paramref name="position"/>; null when valid, else why not (with the claimed length).</summary>
    private string? TryReadEntry(long position, long fileLength, byte[] head, out int length)
    {
        length = -1;
        if (position + EntryHeaderBytes > fileLength || RandomAccess.Read(_journal, head, position) != EntryHeaderBytes)
        {
            return "a partial header";
        }

        length = BinaryPrimitives.ReadInt32LittleEndian(head);
        if (length < 5 || length > MaxEntryBytes)
        {
            return $"an impossible length {length}";
        }

        if (position + EntryHeaderBytes + length > fileLength)
        {
            return "a body cut short";
        }

        var payload = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var span = payload.AsSpan(0, length);
            RandomAccess.Read(_journal, span, position + EntryHeaderBytes);
            if (XxHash3.HashToUInt64(span) != BinaryPrimitives.ReadUInt64LittleEndian(head.AsSpan(4)))
            {
                return "a checksum mismatch";
            }

            var kind = span[0];
            var count = BinaryPrimitives.ReadInt32LittleEndian(span[1..]);
            var at = 5;
            var positions = new CursorPosition[count];
            for (var i = 0; i < count; i++)
            {
                var subscription = ReadString(span, ref at);
                var topic = ReadString(span, ref at);
                positions[i] = new CursorPosition(subscription, topic, BinaryPrimitives.ReadInt32LittleEndian(span[at..]), BinaryPrimitives.ReadInt64LittleEndian(span[(at + 4)..]));
                at += 12;
            }

            Apply(kind, positions);
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
    }

    private static string ReadString(ReadOnlySpan<byte> span, ref int at)
    {
        var length = BinaryPrimitives.ReadUInt16LittleEndian(span[at..]);
        var value = Encoding.UTF8.GetString(span.Slice(at + 2, length));
        at += 2 + length;
        return value;
    }

    private void CompactIfLarge()
    {
        if (_length <= Math.Max(CompactionFloorBytes, CompactionFactor * _compactedLength))
        {
            return;
        }

        CursorPosition[] live;
        lock (_positions)
        {
            live = new CursorPosition[_positions.Count];
            var i = 0;
            foreach (var ((subscription, topic, partition), offset) in _positions)
            {
                live[i++] = new CursorPosition(subscription, topic, partition, offset);
            }
        }

        var buffer = ArrayPool<byte>.Shared.Rent(EntryHeaderBytes + PayloadSize(live));
        try
        {
            var length = WriteEntry(SetEntry, live, buffer.AsSpan());
            _journal.Dispose();
            DurableFile.ReplaceAtomically(_path, buffer.AsSpan(0, length));
            _journal = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
            _length = length;
            _compactedLength = length;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Closes the journal; later commits throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_pendingLock)
        {
            _disposed = true;
        }

        _gate.Wait();
        try
        {
            if (!_journal.IsClosed)
            {
                // Commits queued before the close are written, not dropped.
                List<PendingEntry> entries;
                lock (_pendingLock)
                {
                    entries = _pending;
                    _pending = [];
                }

                if (entries.Count > 0)
                {
                    WriteTogether(entries);
                }

                _journal.Dispose();
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
