using System.Buffers;
using Halfhour.Log.Compression;
using Halfhour.Log.Encryption;
using Halfhour.Log.Records;

namespace Halfhour.Log.Batches;

/// <summary>How a topic's batches are transformed: compression, then encryption with the current key.</summary>
internal sealed record BatchCodec(CompressionOptions Compression, EncryptionKeyring? Keyring);

/// <summary>A batch encoded into a pooled buffer, waiting to be written; the writer returns the buffer.</summary>
internal readonly record struct EncodedBatch(byte[] Buffer, int Length, long FirstOffset, long LastOffset, long Timestamp);

/// <summary>Turns records into one on-disk batch: records, then zstd, then AES-GCM, then the checksum.</summary>
internal static class BatchEncoder
{
    public static EncodedBatch Encode(ReadOnlySpan<AppendRecord> records, int plainLength, long firstOffset, long timestamp, BatchCodec codec)
    {
        var plain = ArrayPool<byte>.Shared.Rent(BatchHeader.Size + plainLength);
        var at = BatchHeader.Size;
        for (var i = 0; i < records.Length; i++)
        {
            at += RecordCodec.Write(records[i], i, timestamp, plain.AsSpan(at));
        }

        var output = plain;
        var bodyLength = plainLength;
        var flags = BatchFlags.None;
        if (codec.Compression.Kind == CompressionKind.Zstd)
        {
            var compressed = ArrayPool<byte>.Shared.Rent(BatchHeader.Size + ZstdCodec.MaxCompressedLength(plainLength));
            var length = ZstdCodec.Compress(plain.AsSpan(BatchHeader.Size, plainLength), compressed.AsSpan(BatchHeader.Size), codec.Compression.Level);
            if (length > 0)
            {
                ArrayPool<byte>.Shared.Return(plain);
                output = compressed;
                bodyLength = length;
                flags |= BatchFlags.Zstd;
            }
            else
            {
                ArrayPool<byte>.Shared.Return(compressed);
            }
        }

        uint keyId = 0;
        byte[]? key = null;
        if (codec.Keyring is { } keyring)
        {
            keyId = keyring.CurrentKeyId;
            keyring.TryGetKey(keyId, out key);
            flags |= BatchFlags.Encrypted;
        }

        var header = new BatchHeader
        {
            Length = BatchHeader.Size + bodyLength,
            Flags = flags,
            RecordCount = records.Length,
            FirstOffset = firstOffset,
            LastOffset = firstOffset + records.Length - 1,
            FirstTimestamp = timestamp,
            LastTimestamp = timestamp,
            KeyId = keyId,
            PlainLength = plainLength,
        };
        var batch = output.AsSpan(0, header.Length);
        header.WriteTo(batch);
        if (key is not null)
        {
            BatchCipher.Encrypt(batch, key);
        }

        BatchHeader.SealChecksum(batch);
        return new EncodedBatch(output, header.Length, header.FirstOffset, header.LastOffset, timestamp);
    }
}
