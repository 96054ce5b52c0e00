using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Halfhour.Log.Batches;
using Halfhour.Log.Internal;
using Halfhour.Log.Recovery;
using Halfhour.Log.Topics;
using Microsoft.Win32.SafeHandles;

namespace Halfhour.Log.Commit;

/// <summary>
/// The commit journal, <c>DIR/commits.wal</c>: the writer puts each group it commits here first, as one
/// record holding every batch of the group, and makes that one file durable; the batches then go to their
/// segment files through the page cache, which are fsynced only at a checkpoint. A group spread over eight
/// partitions and the audit topic costs one data sync instead of nine file syncs, and because the journal
/// is zeroed ahead of use and then reused in place, that sync flushes data only, never file metadata.
/// <code>
/// file header (4096 bytes):  0 u32 magic "HHJ1"   4 u32 version   8 i64 cycle   16 u64 XxHash3 of [0, 16)
/// record:                    0 u32 magic "HHJR"   4 u32 length    8 u64 XxHash3 of [16, length)
///                           16 i64 cycle         24 u32 entries  28 u32 reserved
/// entry:                     0 u32 partition      4 u16 topic name length   6 u16 reserved
///                            8 topic name (UTF-8), then the whole batch as it is written to its segment
/// </code>
/// Failure semantics: the journal holds, since the last checkpoint, every batch written to any segment
/// (in <see cref="Durability.Fsync"/> a group's record is durable before any of its batches reaches a
/// segment file). A checkpoint fsyncs every partition written since the previous one and only then starts
/// a new cycle (a new cycle number in the file header), so records of earlier cycles left in the file are
/// never read again. On open, recovery reads the records of the current cycle up to the first that is torn
/// or invalid (a crash mid-write), lets each partition's tail recovery drop an unsynced tail that the
/// journal covers, and writes back every journaled batch the segments lack, in order.
/// </summary>
internal sealed class CommitJournal : IDisposable
{
    /// <summary>The journal's file name in the log directory.</summary>
    public const string FileName = "commits.wal";

    /// <summary>The file header takes one 4 KiB block, so rewriting it never touches a record's block.</summary>
    public const int HeaderBytes = 4096;

    /// <summary>The smallest journal: room for a few groups of 256 KiB batches between checkpoints.</summary>
    public const long MinimumBytes = 1L << 20;

    private const uint FileMagic = 0x314A4848; // "HHJ1" read as little-endian bytes
    private const uint RecordMagic = 0x524A4848; // "HHJR"
    private const uint Version = 1;
    private const int RecordHeaderBytes = 32;
    private const int EntryHeaderBytes = 8;

    /// <summary>Zeroed ahead of use in chunks that double up to the capacity: a small log never zeroes 64 MiB.</summary>
    private const long FirstZeroedChunk = 1L << 20;

    private static readonly byte[] s_zeros = new byte[1 << 20];

    private readonly SafeFileHandle _handle;
    private readonly long _capacity;
    private readonly XxHash3 _hash = new();
    private readonly List<ReadOnlyMemory<byte>> _parts = [];
    private byte[] _heads = new byte[4096];
    private long _cycle;
    private long _position = HeaderBytes;
    private long _zeroedTo;

    private CommitJournal(string path, SafeFileHandle handle, long capacity, long cycle, long zeroedTo)
    {
        Path = path;
        _handle = handle;
        _capacity = capacity;
        _cycle = cycle;
        _zeroedTo = zeroedTo;
    }

    /// <summary>The journal file.</summary>
    public string Path { get; }

    /// <summary>The largest group record the journal takes; a larger group is made durable by fsyncing its files.</summary>
    public long MaxRecordBytes => _capacity - HeaderBytes;

    /// <summary>
    /// Opens the journal of <paramref name="directory"/>, creating it when missing, and reads the records of
    /// its current cycle (what the segments may lack after a crash).
    /// </summary>
    public static CommitJournal Open(string directory, long capacity, out JournalContents contents)
    {
        var path = System.IO.Path.Combine(directory, FileName);
        var created = !File.Exists(path);
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read); // the log's .lock keeps other writers out
        try
        {
            var length = RandomAccess.GetLength(handle);
            long cycle = 0;
            contents = JournalContents.Empty;
            if (length >= HeaderBytes && TryReadHeader(handle, out cycle))
            {
                contents = ReadRecords(path, handle, cycle, length);
            }
            else if (!created)
            {
                // A torn header is only ever written at a checkpoint, when the segments hold everything.
                contents = new JournalContents(path, [], 0, "its header is torn or missing (a crash while a checkpoint started a new cycle); nothing to replay");
            }

            var journal = new CommitJournal(path, handle, Math.Max(capacity, MinimumBytes), cycle, length);
            if (created)
            {
                journal.ZeroTo(Math.Min(HeaderBytes + FirstZeroedChunk, journal._capacity));
                DurableFile.FlushDirectory(directory);
            }

            return journal;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>The bytes a record of <paramref name="writes"/> takes.</summary>
    public static long RecordSize(List<(PartitionLog Partition, EncodedBatch Batch)> writes)
    {
        long size = RecordHeaderBytes;
        foreach (var (partition, batch) in writes)
        {
            size += EntryHeaderBytes + Encoding.UTF8.GetByteCount(partition.Topic) + batch.Length;
        }

        return size;
    }

    /// <summary>True when a record of <paramref name="size"/> bytes fits in the current cycle.</summary>
    public bool HasRoom(long size) => _position + size <= _capacity;

    /// <summary>Writes one record holding every batch of <paramref name="writes"/> (one gathered write); not yet durable.</summary>
    public void Write(List<(PartitionLog Partition, EncodedBatch Batch)> writes, long size)
    {
        ZeroTo(_position + size);
        var headsLength = checked((int)size);
        foreach (var (_, batch) in writes)
        {
            headsLength -= batch.Length; // what is left of the record is its header and the entries' headers and names
        }

        if (_heads.Length < headsLength)
        {
            _heads = new byte[Math.Max(headsLength, _heads.Length * 2)];
        }

        var heads = _heads.AsMemory();
        var record = heads.Span;
        BinaryPrimitives.WriteUInt32LittleEndian(record, RecordMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], checked((uint)size));
        BinaryPrimitives.WriteInt64LittleEndian(record[16..], _cycle);
        BinaryPrimitives.WriteInt32LittleEndian(record[24..], writes.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(record[28..], 0);
        _hash.Reset();
        _hash.Append(record[16..RecordHeaderBytes]);
        _parts.Clear();
        _parts.Add(heads[..RecordHeaderBytes]);
        var at = RecordHeaderBytes;
        foreach (var (partition, batch) in writes)
        {
            var entry = heads.Span[at..];
            var nameLength = Encoding.UTF8.GetBytes(partition.Topic, entry[EntryHeaderBytes..]);
            BinaryPrimitives.WriteInt32LittleEndian(entry, partition.Id);
            BinaryPrimitives.WriteUInt16LittleEndian(entry[4..], checked((ushort)nameLength));
            BinaryPrimitives.WriteUInt16LittleEndian(entry[6..], 0);
            var head = heads.Slice(at, EntryHeaderBytes + nameLength);
            var body = batch.Buffer.AsMemory(0, batch.Length);
            _hash.Append(head.Span);
            _hash.Append(body.Span);
            _parts.Add(head);
            _parts.Add(body);
            at += head.Length;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(record[8..], _hash.GetCurrentHashAsUInt64());
        RandomAccess.Write(_handle, _parts, _position);
        _position += size;
        _parts.Clear();
    }

    /// <summary>Makes every record written so far durable (a data-only sync of the one journal file).</summary>
    public void Sync() => DurableFile.FlushData(_handle);

    /// <summary>
    /// Starts a new cycle: call only once every batch journaled so far is durable in its segment. The
    /// records of the old cycle stay in the file but are never read again.
    /// </summary>
    public void StartCycle()
    {
        _cycle++;
        Span<byte> header = stackalloc byte[HeaderBytes];
        header.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(header, FileMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], Version);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], _cycle);
        BinaryPrimitives.WriteUInt64LittleEndian(header[16..], XxHash3.HashToUInt64(header[..16]));
        ZeroTo(HeaderBytes);
        RandomAccess.Write(_handle, header, 0);
        DurableFile.FlushData(_handle);
        _position = HeaderBytes;
    }

    public void Dispose() => _handle.Dispose();

    /// <summary>Zeroes the file up to at least <paramref name="end"/>, so later syncs flush data but no size change.</summary>
    private void ZeroTo(long end)
    {
        if (end <= _zeroedTo)
        {
            return;
        }

        var target = Math.Min(_capacity, Math.Max(end, _zeroedTo + Math.Max(FirstZeroedChunk, _zeroedTo)));
        for (var at = _zeroedTo; at < target; at += s_zeros.Length)
        {
            RandomAccess.Write(_handle, s_zeros.AsSpan(0, (int)Math.Min(s_zeros.Length, target - at)), at);
        }

        RandomAccess.FlushToDisk(_handle); // the size changed: a full fsync, once per chunk
        _zeroedTo = target;
    }

    private static bool TryReadHeader(SafeFileHandle handle, out long cycle)
    {
        Span<byte> header = stackalloc byte[24];
        cycle = 0;
        if (RandomAccess.Read(handle, header, 0) != header.Length
            || BinaryPrimitives.ReadUInt32LittleEndian(header) != FileMagic
            || BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) != Version
            || BinaryPrimitives.ReadUInt64LittleEndian(header[16..]) != XxHash3.HashToUInt64(header[..16]))
        {
            return false;
        }

        cycle = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
        return true;
    }

    /// <summary>Reads the current cycle's records from the first block on, stopping at the first that is not whole and valid.</summary>
    private static JournalContents ReadRecords(string path, SafeFileHandle handle, long cycle, long fileLength)
    {
        var entries = new List<JournalEntry>();
        var records = 0;
        string? end = null;
        var position = (long)HeaderBytes;
        Span<byte> head = stackalloc byte[RecordHeaderBytes];
        while (end is null)
        {
            if (position + RecordHeaderBytes > fileLength || RandomAccess.Read(handle, head, position) != RecordHeaderBytes)
            {
                end = "the end of the file";
                break;
            }

            var length = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
            if (BinaryPrimitives.ReadUInt32LittleEndian(head) != RecordMagic || BinaryPrimitives.ReadInt64LittleEndian(head[16..]) != cycle)
            {
                end = $"no record of cycle {cycle} at byte {position}";
                break;
            }

            if (length < RecordHeaderBytes || position + length > fileLength)
            {
                end = $"a record at byte {position} that runs past the end of the file";
                break;
            }

            var record = new byte[length];
            if (RandomAccess.Read(handle, record, position) != length
                || BinaryPrimitives.ReadUInt64LittleEndian(record.AsSpan(8)) != XxHash3.HashToUInt64(record.AsSpan(16)))
            {
                end = $"a torn record at byte {position} (checksum mismatch)";
                break;
            }

            ParseEntries(path, position, record, entries);
            records++;
            position += length;
        }

        return new JournalContents(path, entries, records, end);
    }

    /// <summary>Splits a record whose checksum matched into its entries; a structure that does not add up is damage, not a torn write.</summary>
    private static void ParseEntries(string path, long position, byte[] record, List<JournalEntry> entries)
    {
        var count = BinaryPrimitives.ReadInt32LittleEndian(record.AsSpan(24));
        var at = RecordHeaderBytes;
        for (var i = 0; i < count; i++)
        {
            if (at + EntryHeaderBytes > record.Length)
            {
                throw new LogCorruptionException(path, position, $"entry {i} of a journal record runs past the record");
            }

            var partition = BinaryPrimitives.ReadInt32LittleEndian(record.AsSpan(at));
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(record.AsSpan(at + 4));
            var batchAt = at + EntryHeaderBytes + nameLength;
            if (batchAt > record.Length || !BatchHeader.TryRead(record.AsSpan(batchAt), out var header) || batchAt + header.Length > record.Length
                || !BatchHeader.HasValidChecksum(record.AsSpan(batchAt, header.Length)))
            {
                throw new LogCorruptionException(path, position, $"entry {i} of a journal record does not hold a whole valid batch");
            }

            var topic = Encoding.UTF8.GetString(record, at + EntryHeaderBytes, nameLength);
            entries.Add(new JournalEntry(topic, partition, new EncodedBatch(record.AsSpan(batchAt, header.Length).ToArray(), header.Length, header.FirstOffset, header.LastOffset, header.LastTimestamp)));
            at = batchAt + header.Length;
        }

        if (at != record.Length)
        {
            throw new LogCorruptionException(path, position, "a journal record holds bytes after its last entry");
        }
    }
}

/// <summary>A batch the journal holds, for the partition it belongs to.</summary>
internal readonly record struct JournalEntry(string Topic, int Partition, EncodedBatch Batch);

/// <summary>What the journal held on open: the batches of its current cycle, in commit order.</summary>
internal sealed class JournalContents
{
    private readonly Dictionary<(string Topic, int Partition), long> _coveredFrom = [];

    public JournalContents(string path, List<JournalEntry> entries, int records, string? end)
    {
        Path = path;
        Entries = entries;
        RecordCount = records;
        End = end;
        foreach (var entry in entries)
        {
            _coveredFrom.TryAdd((entry.Topic, entry.Partition), entry.Batch.FirstOffset);
        }
    }

    public static JournalContents Empty { get; } = new(string.Empty, [], 0, null);

    public string Path { get; }

    public IReadOnlyList<JournalEntry> Entries { get; }

    public int RecordCount { get; }

    /// <summary>Where reading stopped and why (null for a new journal).</summary>
    public string? End { get; }

    /// <summary>
    /// The first offset of a partition the journal holds: every batch from there on that reached the
    /// partition's segment since the last checkpoint is in the journal too, so an invalid batch at or past
    /// it is an unsynced write the journal restores, not damage. Null when the journal holds none.
    /// </summary>
    public long? CoveredFrom(string topic, int partition)
        => _coveredFrom.TryGetValue((topic, partition), out var offset) ? offset : null;
}
