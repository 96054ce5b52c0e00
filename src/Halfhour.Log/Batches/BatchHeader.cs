using System.Buffers.Binary;
using System.IO.Hashing;

namespace Halfhour.Log.Batches;

/// <summary>Flags of a batch: how its body was transformed before it was written.</summary>
[Flags]
internal enum BatchFlags : byte
{
    None = 0,
    Zstd = 1,
    Encrypted = 2,
}

/// <summary>
/// The clear, fixed-size header in front of every batch on disk (little-endian):
/// <code>
///  0 u32 magic "HHB1"      4 u32 batch length (header + body)   8 u64 XxHash3 of bytes [16, length)
/// 16 u8 version  17 u8 flags  18 u16 reserved   20 u32 record count
/// 24 i64 first offset      32 i64 last offset
/// 40 i64 first timestamp   48 i64 last timestamp (Unix ms)
/// 56 u32 key id            60 u32 plain body length (before compression and encryption)
/// 64 12 bytes AES-GCM nonce   76 16 bytes AES-GCM tag   92 u32 reserved
/// </code>
/// With encryption the whole header, checksum and tag zeroed, is the AES-GCM associated data, so
/// nothing in it can be changed without failing authentication.
/// </summary>
internal readonly struct BatchHeader
{
    /// <summary>Header size: 96 bytes keeps bodies 32-byte aligned in the write buffer and leaves room for the GCM fields.</summary>
    public const int Size = 96;

    public const uint Magic = 0x31424848; // "HHB1" read as little-endian bytes
    public const byte CurrentVersion = 1;
    public const int ChecksumOffset = 8;
    public const int ChecksummedFrom = 16;
    public const int NonceOffset = 64;
    public const int NonceSize = 12;
    public const int TagOffset = 76;
    public const int TagSize = 16;

    public int Length { get; init; }
    public ulong Checksum { get; init; }
    public BatchFlags Flags { get; init; }
    public int RecordCount { get; init; }
    public long FirstOffset { get; init; }
    public long LastOffset { get; init; }
    public long FirstTimestamp { get; init; }
    public long LastTimestamp { get; init; }
    public uint KeyId { get; init; }
    public int PlainLength { get; init; }

    public int BodyLength => Length - Size;

    /// <summary>Writes every field except the checksum, nonce and tag (which are filled later, in that order of need).</summary>
    public void WriteTo(Span<byte> destination)
    {
        destination[..Size].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(destination[4..], Length);
        destination[16] = CurrentVersion;
        destination[17] = (byte)Flags;
        BinaryPrimitives.WriteInt32LittleEndian(destination[20..], RecordCount);
        BinaryPrimitives.WriteInt64LittleEndian(destination[24..], FirstOffset);
        BinaryPrimitives.WriteInt64LittleEndian(destination[32..], LastOffset);
        BinaryPrimitives.WriteInt64LittleEndian(destination[40..], FirstTimestamp);
        BinaryPrimitives.WriteInt64LittleEndian(destination[48..], LastTimestamp);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[56..], KeyId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[60..], PlainLength);
    }

    /// <summary>Parses a header whose structure is plausible; false when the bytes cannot be a batch header.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out BatchHeader header)
    {
        header = default;
        if (source.Length < Size || BinaryPrimitives.ReadUInt32LittleEndian(source) != Magic || source[16] != CurrentVersion)
        {
            return false;
        }

        var flags = (BatchFlags)source[17];
        header = new BatchHeader
        {
            Length = BinaryPrimitives.ReadInt32LittleEndian(source[4..]),
            Checksum = BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            Flags = flags,
            RecordCount = BinaryPrimitives.ReadInt32LittleEndian(source[20..]),
            FirstOffset = BinaryPrimitives.ReadInt64LittleEndian(source[24..]),
            LastOffset = BinaryPrimitives.ReadInt64LittleEndian(source[32..]),
            FirstTimestamp = BinaryPrimitives.ReadInt64LittleEndian(source[40..]),
            LastTimestamp = BinaryPrimitives.ReadInt64LittleEndian(source[48..]),
            KeyId = BinaryPrimitives.ReadUInt32LittleEndian(source[56..]),
            PlainLength = BinaryPrimitives.ReadInt32LittleEndian(source[60..]),
        };
        return header.Length >= Size
            && header.RecordCount > 0
            && header.FirstOffset >= 0
            && header.LastOffset - header.FirstOffset == header.RecordCount - 1
            && header.PlainLength >= 0
            && (flags & ~(BatchFlags.Zstd | BatchFlags.Encrypted)) == 0;
    }

    /// <summary>The checksum of a whole batch: everything after the checksum field, header and body.</summary>
    public static ulong ComputeChecksum(ReadOnlySpan<byte> batch)
        => XxHash3.HashToUInt64(batch[ChecksummedFrom..]);

    /// <summary>Stores the checksum of a finished batch in its header.</summary>
    public static void SealChecksum(Span<byte> batch)
        => BinaryPrimitives.WriteUInt64LittleEndian(batch[ChecksumOffset..], ComputeChecksum(batch));

    /// <summary>True when <paramref name="batch"/> (exactly one whole batch) carries the checksum of its bytes.</summary>
    public static bool HasValidChecksum(ReadOnlySpan<byte> batch)
        => BinaryPrimitives.ReadUInt64LittleEndian(batch[ChecksumOffset..]) == ComputeChecksum(batch);

    /// <summary>Copies the header as AES-GCM associated data: checksum and tag zeroed, as they were when it was sealed.</summary>
    public static void CopyAssociatedData(ReadOnlySpan<byte> header, Span<byte> destination)
    {
        header[..Size].CopyTo(destination);
        destination.Slice(ChecksumOffset, 8).Clear();
        destination.Slice(TagOffset, TagSize).Clear();
    }
}
