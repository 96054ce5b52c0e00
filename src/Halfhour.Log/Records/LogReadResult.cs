using System.Buffers;
using System.Buffers.Binary;
using Halfhour.Log.Batches;

namespace Halfhour.Log.Records;

/// <summary>
/// Records read from one partition, held in pooled buffers: enumerate them, then dispose the result
/// to give the buffers back. Every batch they came from passed its checksum (and authentication
/// when encrypted) before it was put here.
/// </summary>
public sealed class LogReadResult : IDisposable
{
    private readonly List<byte[]> _rented = [];
    private BatchView[] _batches = ArrayPool<BatchView>.Shared.Rent(8);
    private int _batchCount;
    private bool _disposed;

    internal LogReadResult(long fromOffset)
    {
        FromOffset = fromOffset;
        NextOffset = fromOffset;
    }

    /// <summary>The offset the read asked for; records below it are not returned.</summary>
    public long FromOffset { get; }

    /// <summary>The offset to read from next: one past the last record returned, or <see cref="FromOffset"/> when none was.</summary>
    public long NextOffset { get; private set; }

    /// <summary>How many records the result holds.</summary>
    public int Count => (int)(NextOffset - FromOffset);

    /// <summary>True when the read found no record.</summary>
    public bool IsEmpty => NextOffset == FromOffset;

    internal byte[] Rent(int size)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        _rented.Add(buffer);
        return buffer;
    }

    /// <summary>Adds the plain body of a batch; records before <see cref="FromOffset"/> are skipped when enumerating.</summary>
    internal void AddBatch(byte[] buffer, int bodyStart, int bodyLength, in BatchHeader header)
    {
        if (_batchCount == _batches.Length)
        {
            var larger = ArrayPool<BatchView>.Shared.Rent(_batches.Length * 2);
            Array.Copy(_batches, larger, _batchCount);
            ArrayPool<BatchView>.Shared.Return(_batches, clearArray: true);
            _batches = larger;
        }

        _batches[_batchCount++] = new BatchView(buffer, bodyStart, bodyLength, header.FirstOffset, header.RecordCount);
        NextOffset = header.LastOffset + 1;
    }

    /// <summary>Enumerates the records in offset order.</summary>
    public Enumerator GetEnumerator()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new Enumerator(this);
    }

    /// <summary>Returns the pooled buffers; records read from this result must not be used afterwards.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var buffer in _rented)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        _rented.Clear();
        ArrayPool<BatchView>.Shared.Return(_batches, clearArray: true);
        _batches = [];
        _batchCount = 0;
    }

    internal readonly record struct BatchView(byte[] Buffer, int BodyStart, int BodyLength, long FirstOffset, int RecordCount);

    /// <summary>Walks the records of every batch, skipping those before the offset asked for.</summary>
    public struct Enumerator
    {
        private readonly LogReadResult _result;
        private int _batch;
        private int _position;
        private int _left;

        internal Enumerator(LogReadResult result)
        {
            _result = result;
            _batch = -1;
        }

        /// <summary>The record reached.</summary>
        public LogRecord Current { get; private set; }

        /// <summary>Moves to the next record.</summary>
        public bool MoveNext()
        {
            while (true)
            {
                if (_left == 0)
                {
                    if (++_batch >= _result._batchCount)
                    {
                        return false;
                    }

                    var view = _result._batches[_batch];
                    _position = view.BodyStart;
                    _left = view.RecordCount;
                }

                var batch = _result._batches[_batch];
                var record = Parse(batch, ref _position);
                _left--;
                if (record.Offset >= _result.FromOffset)
                {
                    Current = record;
                    return true;
                }
            }
        }

        private static LogRecord Parse(in BatchView batch, ref int position)
        {
            var buffer = batch.Buffer;
            var span = buffer.AsSpan(position, batch.BodyStart + batch.BodyLength - position);
            var length = BinaryPrimitives.ReadInt32LittleEndian(span);
            var offset = batch.FirstOffset + BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
            var timestamp = BinaryPrimitives.ReadInt64LittleEndian(span[8..]);
            var keyLength = BinaryPrimitives.ReadInt32LittleEndian(span[16..]);
            var at = 20;
            var key = new ReadOnlyMemory<byte>(buffer, position + at, keyLength);
            at += keyLength;
            var headerCount = BinaryPrimitives.ReadUInt16LittleEndian(span[at..]);
            at += 2;
            var headersStart = at;
            for (var i = 0; i < headerCount; i++)
            {
                at += 2 + BinaryPrimitives.ReadUInt16LittleEndian(span[at..]);
                at += 4 + BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
            }

            var headers = new RecordHeaders(new ReadOnlyMemory<byte>(buffer, position + headersStart, at - headersStart), headerCount);
            var valueLength = BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
            var value = new ReadOnlyMemory<byte>(buffer, position + at + 4, valueLength);
            position += 4 + length;
            return new LogRecord(offset, timestamp, key, headers, value);
        }
    }
}
