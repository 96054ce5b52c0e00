using System.Buffers.Binary;
using System.Text;

namespace Halfhour.Log.Records;

/// <summary>
/// A record read back from the log. Its key, value and headers point into the pooled buffers of the
/// <see cref="LogReadResult"/> it came from, so they are valid only until that result is disposed.
/// </summary>
public readonly struct LogRecord
{
    internal LogRecord(long offset, long timestampMs, ReadOnlyMemory<byte> key, RecordHeaders headers, ReadOnlyMemory<byte> value)
    {
        Offset = offset;
        TimestampMs = timestampMs;
        Key = key;
        Headers = headers;
        Value = value;
    }

    /// <summary>The record's offset: its position in its partition, for ever.</summary>
    public long Offset { get; }

    /// <summary>When the log accepted the record, in Unix milliseconds (non-decreasing within a partition).</summary>
    public long TimestampMs { get; }

    /// <summary>When the log accepted the record.</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.FromUnixTimeMilliseconds(TimestampMs);

    /// <summary>The record's key (empty when it had none).</summary>
    public ReadOnlyMemory<byte> Key { get; }

    /// <summary>The record's headers.</summary>
    public RecordHeaders Headers { get; }

    /// <summary>The record's payload.</summary>
    public ReadOnlyMemory<byte> Value { get; }
}

/// <summary>The headers of a record read back, decoded only when enumerated.</summary>
public readonly struct RecordHeaders
{
    private readonly ReadOnlyMemory<byte> _encoded;

    internal RecordHeaders(ReadOnlyMemory<byte> encoded, int count)
    {
        _encoded = encoded;
        Count = count;
    }

    /// <summary>How many headers the record has.</summary>
    public int Count { get; }

    /// <summary>The value of the first header named <paramref name="name"/>, compared as UTF-8 bytes without allocating.</summary>
    public bool TryGetValue(string name, out ReadOnlyMemory<byte> value)
    {
        Span<byte> wanted = stackalloc byte[256];
        var length = Encoding.UTF8.GetByteCount(name);
        var nameBytes = length <= wanted.Length ? wanted[..Encoding.UTF8.GetBytes(name, wanted)] : Encoding.UTF8.GetBytes(name);
        var span = _encoded.Span;
        var at = 0;
        for (var i = 0; i < Count; i++)
        {
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(span[at..]);
            var candidate = span.Slice(at + 2, nameLength);
            at += 2 + nameLength;
            var valueLength = BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
            if (candidate.SequenceEqual(nameBytes))
            {
                value = _encoded.Slice(at + 4, valueLength);
                return true;
            }

            at += 4 + valueLength;
        }

        value = default;
        return false;
    }

    /// <summary>Enumerates the headers in the order they were appended.</summary>
    public Enumerator GetEnumerator() => new(_encoded, Count);

    /// <summary>Walks the encoded headers; each name is decoded as it is reached.</summary>
    public struct Enumerator(ReadOnlyMemory<byte> encoded, int count)
    {
        private int _position;
        private int _index;

        /// <summary>The header reached.</summary>
        public RecordHeader Current { get; private set; }

        /// <summary>Moves to the next header.</summary>
        public bool MoveNext()
        {
            if (_index >= count)
            {
                return false;
            }

            var span = encoded.Span;
            var nameLength = BinaryPrimitives.ReadUInt16LittleEndian(span[_position..]);
            var name = Encoding.UTF8.GetString(span.Slice(_position + 2, nameLength));
            _position += 2 + nameLength;
            var valueLength = BinaryPrimitives.ReadInt32LittleEndian(span[_position..]);
            Current = new RecordHeader(name, encoded.Slice(_position + 4, valueLength));
            _position += 4 + valueLength;
            _index++;
            return true;
        }
    }
}
