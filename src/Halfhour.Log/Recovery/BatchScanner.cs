using System.Buffers;
using System.Buffers.Binary;
using Halfhour.Log.Batches;
using Microsoft.Win32.SafeHandles;

namespace Halfhour.Log.Recovery;

/// <summary>
/// Reads a segment file forward, batch by batch, checking each header and checksum without
/// decrypting or decompressing: recovery needs to know where valid data ends, not what it says.
/// </summary>
internal sealed class BatchScanner : IDisposable
{
    /// <summary>Read 1 MiB at a time: a handful of syscalls per interval scanned, and a small buffer.</summary>
    private const int ChunkBytes = 1 << 20;

    private readonly SafeFileHandle _handle;
    private readonly long _fileLength;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
    private long _bufferStart;
    private int _bufferLength;

    public BatchScanner(SafeFileHandle handle, long fileLength)
    {
        _handle = handle;
        _fileLength = fileLength;
    }

    /// <summary>Checks the batch at <paramref name="position"/>; null when it is whole and valid, else why not.</summary>
    public string? TryReadBatch(long position, out BatchHeader header)
    {
        header = default;
        if (position + BatchHeader.Size > _fileLength)
        {
            return "a partial batch header at the end of the file";
        }

        var head = Window(position, BatchHeader.Size);
        if (!BatchHeader.TryRead(head, out header))
        {
            return "no valid batch header";
        }

        if (position + header.Length > _fileLength)
        {
            return $"a batch of {header.Length} bytes that runs past the end of the file";
        }

        return BatchHeader.HasValidChecksum(Window(position, header.Length)) ? null : "a checksum mismatch";
    }

    /// <summary>The first position after <paramref name="from"/> where a whole valid batch starts, or -1.</summary>
    public long FindNextValidBatch(long from)
    {
        Span<byte> magic = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(magic, BatchHeader.Magic);
        var position = from;
        while (position + BatchHeader.Size <= _fileLength)
        {
            var length = (int)Math.Min(ChunkBytes, _fileLength - position);
            var found = Window(position, length).IndexOf(magic);
            if (found < 0)
            {
                position += Math.Max(1, length - 3);
                continue;
            }

            var candidate = position + found;
            if (TryReadBatch(candidate, out _) is null)
            {
                return candidate;
            }

            position = candidate + 1;
        }

        return -1;
    }

    private ReadOnlySpan<byte> Window(long position, int length)
    {
        if (position < _bufferStart || position + length > _bufferStart + _bufferLength)
        {
            if (_buffer.Length < length)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = ArrayPool<byte>.Shared.Rent(length);
            }

            _bufferStart = position;
            _bufferLength = RandomAccess.Read(_handle, _buffer.AsSpan(0, (int)Math.Min(_buffer.Length, _fileLength - position)), position);
            if (_bufferLength < length)
            {
                throw new IOException($"The file ended while {length} bytes were read at {position}.");
            }
        }

        return _buffer.AsSpan((int)(position - _bufferStart), length);
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }
}
