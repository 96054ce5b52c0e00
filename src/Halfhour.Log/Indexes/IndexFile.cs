using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Halfhour.Log.Indexes;

/// <summary>
/// A file of fixed-size entries, appended in position order and searched with positioned reads, so a
/// segment's index costs no memory beyond the OS page cache.
/// Failure semantics: entries are written after the batch they point at and are not fsynced with it;
/// a crash can leave a partial last entry (dropped on open) or entries pointing past the durable end
/// of the log (found and dropped by recovery, which checks the batch an entry points at).
/// </summary>
internal sealed class IndexFile : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly int _entrySize;
    private readonly int _positionField;
    private int _count;
    private bool _dirty;

    /// <summary>Opens or creates the file; <paramref name="positionField"/> is where each entry keeps its u32 log position.</summary>
    public IndexFile(string path, int entrySize, int positionField)
    {
        Path = path;
        _entrySize = entrySize;
        _positionField = positionField;
        _handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        var length = RandomAccess.GetLength(_handle);
        _count = (int)(length / entrySize);
        if (length % entrySize != 0)
        {
            RandomAccess.SetLength(_handle, (long)_count * entrySize);
        }
    }

    public string Path { get; }

    public int Count => Volatile.Read(ref _count);

    public void Append(ReadOnlySpan<byte> entry)
    {
        RandomAccess.Write(_handle, entry, (long)_count * _entrySize);
        Volatile.Write(ref _count, _count + 1);
        _dirty = true;
    }

    public void Read(int index, Span<byte> entry)
    {
        if (RandomAccess.Read(_handle, entry[.._entrySize], (long)index * _entrySize) != _entrySize)
        {
            throw new IOException($"Index {Path} is shorter than its entry count.");
        }
    }

    public long PositionAt(int index)
    {
        Span<byte> entry = stackalloc byte[_entrySize];
        Read(index, entry);
        return BinaryPrimitives.ReadUInt32LittleEndian(entry[_positionField..]);
    }

    /// <summary>Drops every entry from <paramref name="index"/> on.</summary>
    public void TruncateTo(int index)
    {
        if (index >= _count)
        {
            return;
        }

        Volatile.Write(ref _count, index);
        RandomAccess.SetLength(_handle, (long)index * _entrySize);
        _dirty = true;
    }

    /// <summary>Drops every entry pointing at or past <paramref name="position"/> of the log.</summary>
    public void TruncateAtPosition(long position)
    {
        var count = _count;
        while (count > 0 && PositionAt(count - 1) >= position)
        {
            count--;
        }

        TruncateTo(count);
    }

    /// <summary>The last entry whose key (read by <paramref name="keyOf"/>) is at most <paramref name="key"/>, or -1.</summary>
    public int FindLastAtMost(long key, Func<ReadOnlySpan<byte>, long> keyOf)
    {
        Span<byte> entry = stackalloc byte[_entrySize];
        int low = 0, high = Count - 1, found = -1;
        while (low <= high)
        {
            var middle = low + ((high - low) >> 1);
            Read(middle, entry);
            if (keyOf(entry) <= key)
            {
                found = middle;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return found;
    }

    public void Flush()
    {
        if (_dirty)
        {
            RandomAccess.FlushToDisk(_handle);
            _dirty = false;
        }
    }

    public void Dispose() => _handle.Dispose();
}
