using System.Buffers.Binary;

namespace Halfhour.Log.Indexes;

/// <summary>
/// The sparse time index of a segment: entries <c>(i64 timestamp, u32 offset - base, u32 position)</c>
/// written beside the offset index's, plus a closing entry for the last batch when the segment is
/// sealed, so the last entry of a sealed segment gives its newest timestamp (what retention by age needs).
/// Timestamps are the log's append times, non-decreasing within a partition, so entries are sorted.
/// </summary>
internal sealed class TimeIndex(string path, long baseOffset) : SparseIndex(path, baseOffset, EntrySize, positionField: 12)
{
    private const int EntrySize = 16;

    public void Append(long timestamp, long offset, long position)
    {
        Span<byte> entry = stackalloc byte[EntrySize];
        BinaryPrimitives.WriteInt64LittleEndian(entry, timestamp);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], checked((uint)(offset - BaseOffset)));
        BinaryPrimitives.WriteUInt32LittleEndian(entry[12..], checked((uint)position));
        File.Append(entry);
    }

    public (long Timestamp, long Offset, long Position) EntryAt(int index)
    {
        Span<byte> entry = stackalloc byte[EntrySize];
        File.Read(index, entry);
        return (BinaryPrimitives.ReadInt64LittleEndian(entry), BaseOffset + BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]), BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]));
    }

    /// <summary>The position of the last indexed batch stamped strictly before <paramref name="timestamp"/> (0 when none is).</summary>
    public long FindPositionBefore(long timestamp)
    {
        var index = File.FindLastAtMost(timestamp - 1, static e => BinaryPrimitives.ReadInt64LittleEndian(e));
        return index < 0 ? 0 : EntryAt(index).Position;
    }
}
