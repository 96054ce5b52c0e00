using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Halfhour.Broker.Delivery;

/// <summary>
/// An inbox record: where a message routed to the inbox's owner is stored (interface topic, partition,
/// offset), and which message it is (a fingerprint of the stored record). Inboxes hold pointers, not copies, so a
/// message routed to four parties is stored once.
/// Why the fingerprint: a place alone does not name a message for ever on every engine. After a leader change, a
/// nats-server 2.9 stream can number its last records differently from what the indexer read from the old leader, so a
/// pointer's place can come to hold another message — of the same MPAN too; the reader hands out only the record whose
/// fingerprint the pointer carries. Pointers written before the fingerprint existed (an embedded data directory's
/// inboxes) have none and are read as before: place and MPAN only.
/// </summary>
/// <param name="InterfaceId">The interface, e.g. IF-021 (its topic in the inbox's environment).</param>
/// <param name="Partition">The partition of the interface topic.</param>
/// <param name="Offset">The offset in that partition.</param>
/// <param name="Fingerprint">The stored record's <see cref="FingerprintOf"/>; null for a pointer of the first format, which has none.</param>
public readonly record struct InboxPointer(string InterfaceId, int Partition, long Offset, ulong? Fingerprint = null)
{
    /// <summary>The largest encoded pointer: an interface ID of at most 16 bytes, a partition, an offset and a fingerprint.</summary>
    public const int MaxBytes = 1 + 16 + PlaceBytes + FingerprintBytes;

    /// <summary>A partition (2 bytes) and an offset (8): the first format ends there.</summary>
    private const int PlaceBytes = 2 + 8;

    private const int FingerprintBytes = 8;

    /// <summary>
    /// The fingerprint of a stored record's value: its XxHash3 (64 bits), fast enough for every event indexed (~20 GB/s),
    /// and for two different messages at one place after a renumbering a chance of 2^-64 to look the same.
    /// </summary>
    public static ulong FingerprintOf(ReadOnlySpan<byte> storedValue) => XxHash3.HashToUInt64(storedValue);

    /// <summary>
    /// Whether the message found at a pointer's place is the one the pointer names: a pointer is keyed by its message's MPAN
    /// (<paramref name="mpanKey"/>; empty: not checked) and carries its record's <paramref name="fingerprint"/> (null, a pointer
    /// of the first format: not checked). <paramref name="mpan"/> and <paramref name="foundFingerprint"/> are the found
    /// message's (a fingerprint not known never matches one expected). Every reader of pointers — a recipient's subscription,
    /// a replay — asks this before handing a message out: after a renumbering a place can hold another party's message.
    /// </summary>
    public static PointerTarget Check(ReadOnlySpan<byte> mpanKey, ulong? fingerprint, string mpan, ulong? foundFingerprint)
        => !mpanKey.IsEmpty && !Ascii.Equals(mpanKey, mpan) ? PointerTarget.OtherMpan
            : fingerprint is { } expected && foundFingerprint != expected ? PointerTarget.OtherMessage
            : PointerTarget.Named;

    /// <summary>Writes the pointer (with its fingerprint when it has one); returns the bytes written.</summary>
    public int WriteTo(Span<byte> destination)
    {
        var length = Encoding.ASCII.GetBytes(InterfaceId, destination[1..]);
        destination[0] = (byte)length;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[(1 + length)..], (ushort)Partition);
        BinaryPrimitives.WriteInt64LittleEndian(destination[(3 + length)..], Offset);
        if (Fingerprint is not { } fingerprint)
        {
            return 1 + length + PlaceBytes;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(destination[(1 + length + PlaceBytes)..], fingerprint);
        return 1 + length + PlaceBytes + FingerprintBytes;
    }

    /// <summary>The pointer as a new array.</summary>
    public byte[] ToArray()
    {
        Span<byte> buffer = stackalloc byte[MaxBytes];
        return buffer[..WriteTo(buffer)].ToArray();
    }

    /// <summary>Reads a pointer written by <see cref="WriteTo"/>, in either format.</summary>
    public static InboxPointer Read(ReadOnlySpan<byte> source)
    {
        var interfaceId = ReadPlace(source, out var partition, out var offset, out var fingerprint);
        return new InboxPointer(Encoding.ASCII.GetString(interfaceId), partition, offset, fingerprint);
    }

    /// <summary>
    /// Reads a pointer's partition, offset and fingerprint (null in the first format); returns its interface ID as the
    /// ASCII bytes stored (no string made).
    /// </summary>
    public static ReadOnlySpan<byte> ReadPlace(ReadOnlySpan<byte> source, out int partition, out long offset, out ulong? fingerprint)
    {
        var length = source.IsEmpty ? -1 : source[0];
        var place = 1 + length;
        if (length < 0 || (source.Length != place + PlaceBytes && source.Length != place + PlaceBytes + FingerprintBytes))
        {
            throw new InvalidDataException($"An inbox pointer of {source.Length} bytes does not match its interface ID length {length}.");
        }

        partition = BinaryPrimitives.ReadUInt16LittleEndian(source[place..]);
        offset = BinaryPrimitives.ReadInt64LittleEndian(source[(place + 2)..]);
        fingerprint = source.Length == place + PlaceBytes ? null : BinaryPrimitives.ReadUInt64LittleEndian(source[(place + PlaceBytes)..]);
        return source.Slice(1, length);
    }
}

/// <summary>What a reader finds at an inbox pointer's place (<see cref="InboxPointer.Check"/>).</summary>
public enum PointerTarget
{
    /// <summary>The message the pointer names.</summary>
    Named,

    /// <summary>No record: retention deleted it, or the partition holds none at that number.</summary>
    Missing,

    /// <summary>A message of another MPAN than the pointer's key.</summary>
    OtherMpan,

    /// <summary>Another message of the same MPAN: the fingerprints differ.</summary>
    OtherMessage,
}
