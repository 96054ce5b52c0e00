using Halfhour.Log.Compression;
using Halfhour.Log.Encryption;
using Halfhour.Log.Records;
using Halfhour.Log.Recovery;

namespace Halfhour.Log.Batches;

/// <summary>Turns one on-disk batch back into records: checksum, then AES-GCM, then zstd.</summary>
internal static class BatchDecoder
{
    /// <summary>
    /// Checks and decodes the batch at <paramref name="start"/> in <paramref name="buffer"/>
    /// and adds its records to <paramref name="result"/>; throws <see cref="LogCorruptionException"/> on any failed check.
    /// </summary>
    public static void Decode(byte[] buffer, int start, in BatchHeader header, EncryptionKeyring? keyring, LogReadResult result, string file, long position)
    {
        var batch = buffer.AsSpan(start, header.Length);
        if (!BatchHeader.HasValidChecksum(batch))
        {
            throw new LogCorruptionException(file, position, $"checksum mismatch in batch of offsets {header.FirstOffset}-{header.LastOffset}");
        }

        var body = buffer;
        var bodyStart = start + BatchHeader.Size;
        var bodyLength = header.BodyLength;
        if ((header.Flags & BatchFlags.Encrypted) != 0)
        {
            if (keyring is null || !keyring.TryGetKey(header.KeyId, out var key))
            {
                throw new InvalidOperationException($"The batch at byte {position} of {file} is encrypted with key {header.KeyId}, which the keyring does not hold.");
            }

            var plain = result.Rent(Math.Max(bodyLength, 1));
            if (!BatchCipher.TryDecrypt(batch, key, plain.AsSpan(0, bodyLength)))
            {
                throw new LogCorruptionException(file, position, $"authentication failed for batch of offsets {header.FirstOffset}-{header.LastOffset}");
            }

            body = plain;
            bodyStart = 0;
        }

        if ((header.Flags & BatchFlags.Zstd) != 0)
        {
            var plain = result.Rent(Math.Max(header.PlainLength, 1));
            if (!ZstdCodec.TryDecompress(body.AsSpan(bodyStart, bodyLength), plain.AsSpan(0, header.PlainLength)))
            {
                throw new LogCorruptionException(file, position, $"zstd body of batch {header.FirstOffset}-{header.LastOffset} does not decompress to its stated length");
            }

            body = plain;
            bodyStart = 0;
            bodyLength = header.PlainLength;
        }

        result.AddBatch(body, bodyStart, bodyLength, header);
    }
}
