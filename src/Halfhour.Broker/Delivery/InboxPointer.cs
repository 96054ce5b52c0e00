using System.Buffers.Binary;
using System.Text;

namespace Halfhour.Broker.Delivery;

/// <summary>
/// An inbox record: where a message routed to the inbox's owner is stored (interface topic, partition,
/// offset). Inboxes hold pointers, not copies, so a message routed to four parties is stored once.
/// </summary>
/// <param name="InterfaceId">The interface, e.g. IF-021 (its topic in the inbox's environment).</param>
/// <param name="Partition">The partition of the interface topic.</param>
/// <param name="Offset">The offset in that partition.</param>
public readonly record struct InboxPointer(string InterfaceId, int Partition, long Offset)
{
    /// <summary>The largest encoded pointer: an interface ID of at most 16 bytes, a partition and an offset.</summary>
    public const int MaxBytes = 1 + 16 + 2 + 8;

    /// <summary>Writes the pointer; returns the bytes written.</summary>
    public int WriteTo(Span<byte> destination)
    {
        var length = Encoding.ASCII.GetBytes(InterfaceId, destination[1..]);
        destination[0] = (byte)length;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[(1 + length)..], (ushort)Partition);
        BinaryPrimitives.WriteInt64LittleEndian(destination[(3 + length)..], Offset);
        return 11 + length;
    }

    /// <summary>The pointer as a new array.</summary>
    public byte[] ToArray()
    {
        Span<byte> buffer = stackalloc byte[MaxBytes];
        return buffer[..WriteTo(buffer)].ToArray();
    }

    /// <summary>Reads a pointer written by <see cref="WriteTo"/>.</summary>
    public static InboxPointer Read(ReadOnlySpan<byte> source)
    {
        var interfaceId = ReadPlace(source, out var partition, out var offset);
        return new InboxPointer(Encoding.ASCII.GetString(interfaceId), partition, offset);
    }

    /// <summary>Reads a pointer's partition and offset; returns its interface ID as the ASCII bytes stored (no string made).</summary>
    public static ReadOnlySpan<byte> ReadPlace(ReadOnlySpan<byte> source, out int partition, out long offset)
    {
        var length = source.IsEmpty ? -1 : source[0];
        if (source.Length != 11 + length)
        {
            throw new InvalidDataException($"An inbox pointer of {source.Length} bytes does not match its interface ID length {length}.");
        }

        partition = BinaryPrimitives.ReadUInt16LittleEndian(source[(1 + length)..]);
        offset = BinaryPrimitives.ReadInt64LittleEndian(source[(3 + length)..]);
        return source.Slice(1, length);
    }
}
