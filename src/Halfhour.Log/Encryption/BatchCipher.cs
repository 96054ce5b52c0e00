using System.Security.Cryptography;
using Halfhour.Log.Batches;

namespace Halfhour.Log.Encryption;

/// <summary>
/// AES-256-GCM over one batch body. The nonce is 12 random bytes per batch: at the rates this log
/// writes (well under 2^32 batches per key) random nonces do not collide in practice, and they need
/// no counter state to survive a crash. The header is the associated data.
/// </summary>
internal static class BatchCipher
{
    /// <summary>Encrypts the body of <paramref name="batch"/> in place; the header must be written except checksum and tag.</summary>
    public static void Encrypt(Span<byte> batch, byte[] key)
    {
        var nonce = batch.Slice(BatchHeader.NonceOffset, BatchHeader.NonceSize);
        RandomNumberGenerator.Fill(nonce);
        Span<byte> associated = stackalloc byte[BatchHeader.Size];
        BatchHeader.CopyAssociatedData(batch, associated);
        Span<byte> tag = stackalloc byte[BatchHeader.TagSize];
        var body = batch[BatchHeader.Size..];
        using var aes = new AesGcm(key, BatchHeader.TagSize);
        aes.Encrypt(nonce, body, body, tag, associated);
        tag.CopyTo(batch[BatchHeader.TagOffset..]);
    }

    /// <summary>Decrypts the body of <paramref name="batch"/> into <paramref name="plain"/>; false when authentication fails.</summary>
    public static bool TryDecrypt(ReadOnlySpan<byte> batch, byte[] key, Span<byte> plain)
    {
        Span<byte> associated = stackalloc byte[BatchHeader.Size];
        BatchHeader.CopyAssociatedData(batch, associated);
        using var aes = new AesGcm(key, BatchHeader.TagSize);
        try
        {
            aes.Decrypt(
                batch.Slice(BatchHeader.NonceOffset, BatchHeader.NonceSize),
                batch[BatchHeader.Size..],
                batch.Slice(BatchHeader.TagOffset, BatchHeader.TagSize),
                plain,
                associated);
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }
}
