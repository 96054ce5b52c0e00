using System.Buffers.Binary;

namespace Halfhour.Log.Indexes;

/// <summary>
/// The sparse offset index of a segment: entries <c>(u32 offset - base, u32 position)</c> for a batch
/// every <see cref="Topics.TopicOptions.IndexIntervalBytes"/>; a lookup gives where to start reading
/// for an offset, and the read scans forward at most one interval.
/// </summary>
internal sealed class OffsetIndex(string path, long baseOffset) : SparseIndex(path, baseOffset, EntrySize, positionField: 4)
{
    private const int EntrySize = 8;

    public void Append(long offset, long position)
    {
        Span<byte> entry = stackalloc byte[EntrySize];
        BinaryPrimitives.WriteUInt32LittleEndian(entry, checked((uint)(offset - BaseOffset)));
        BinaryPrimitives.WriteUInt32LittleEndian(entry[4..], checked((uint)position));
        File.Append(entry);
    }

    public (long Offset, long Position) EntryAt(int index)
    {
        Span<byte> entry = stackalloc byte[EntrySize];
        File.Read(index, entry);
        return (BaseOffset + BinaryPrimitives.ReadUInt32LittleEndian(entry), BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]));
    }

    /// <summary>The position of the last indexed batch starting at or before <paramref name="offset"/> (0 when none is).</summary>
    public long FindPosition(long offset)
    {
        var index = File.FindLastAtMost(offset - BaseOffset, static e => BinaryPrimitives.ReadUInt32LittleEndian(e));
        return index < 0 ? 0 : EntryAt(index).Position;
    }
}
