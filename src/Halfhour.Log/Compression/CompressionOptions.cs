namespace Halfhour.Log.Compression;

/// <summary>How a topic's batches are compressed.</summary>
public enum CompressionKind
{
    /// <summary>Bodies are stored as written.</summary>
    None = 0,

    /// <summary>Each batch body is compressed with zstd; a batch that would not shrink is stored plain.</summary>
    Zstd = 1,
}

/// <summary>A topic's compression choice.</summary>
public sealed record CompressionOptions
{
    /// <summary>No compression: the fastest to write and read.</summary>
    public static CompressionOptions None { get; } = new();

    /// <summary>zstd at level 3: its default, ~4-8x on MHHS JSON at a few hundred MB/s per core.</summary>
    public static CompressionOptions Zstd { get; } = new() { Kind = CompressionKind.Zstd, Level = 3 };

    /// <summary>The codec.</summary>
    public CompressionKind Kind { get; init; } = CompressionKind.None;

    /// <summary>The zstd level, 1 (fastest) to 19 (smallest).</summary>
    public int Level { get; init; } = 3;
}
