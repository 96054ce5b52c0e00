using ZstdSharp;

namespace Halfhour.Log.Compression;

/// <summary>
/// zstd compression of batch bodies. zstd contexts are not thread-safe and cost ~1 MB each, so each
/// thread keeps one compressor (for the last level used) and one decompressor, reused for every batch.
/// </summary>
internal static class ZstdCodec
{
    [ThreadStatic]
    private static Compressor? t_compressor;

    [ThreadStatic]
    private static int t_compressorLevel;

    [ThreadStatic]
    private static Decompressor? t_decompressor;

    public static int MaxCompressedLength(int length) => Compressor.GetCompressBound(length);

    /// <summary>Compresses into <paramref name="destination"/>; returns the length, or -1 when it would not shrink.</summary>
    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination, int level)
    {
        if (t_compressor is null || t_compressorLevel != level)
        {
            t_compressor?.Dispose();
            t_compressor = new Compressor(level);
            t_compressorLevel = level;
        }

        var length = t_compressor.Wrap(source, destination);
        return length < source.Length ? length : -1;
    }

    /// <summary>Decompresses a body whose plain length the batch header gives; false when the bytes are not valid zstd of that length.</summary>
    public static bool TryDecompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        t_decompressor ??= new Decompressor();
        try
        {
            return t_decompressor.Unwrap(source, destination) == destination.Length;
        }
        catch (ZstdException)
        {
            return false;
        }
    }
}
