using Halfhour.Log.Compression;
using Halfhour.Log.Retention;

namespace Halfhour.Log.Topics;

/// <summary>How a topic is laid out and stored; fixed when the topic is created (kept in its topic.properties).</summary>
public sealed record TopicOptions
{
    /// <summary>
    /// 256 MiB segments: retention frees space in steps under 1 % of a day of MHHS consumption
    /// traffic, a day is about a hundred files rather than thousands, and the worst-case scan of an
    /// active segment whose index was lost with the page cache stays a fraction of a second.
    /// </summary>
    public const long DefaultSegmentBytes = 256L << 20;

    /// <summary>
    /// A sparse index entry every 64 KiB: ~4,000 entries (32 KiB of offset index) per 256 MiB segment,
    /// and a lookup reads at most 64 KiB plus one batch past the entry, one pread from the page cache.
    /// </summary>
    public const int DefaultIndexIntervalBytes = 64 << 10;

    /// <summary>The number of partitions, fixed for the topic's life (1 to 10,000).</summary>
    public int Partitions { get; init; } = 1;

    /// <summary>How batches are compressed.</summary>
    public CompressionOptions Compression { get; init; } = CompressionOptions.None;

    /// <summary>True to encrypt every batch with the log's keyring (which must then be configured).</summary>
    public bool Encrypted { get; init; }

    /// <summary>The size past which a partition's active segment is sealed and a new one started (1 MiB to 1 GiB).</summary>
    public long SegmentBytes { get; init; } = DefaultSegmentBytes;

    /// <summary>How many bytes of batches pass between two sparse index entries (4 KiB to 16 MiB).</summary>
    public int IndexIntervalBytes { get; init; } = DefaultIndexIntervalBytes;

    /// <summary>When whole sealed segments are deleted.</summary>
    public RetentionOptions Retention { get; init; } = RetentionOptions.KeepForever;

    internal void Validate()
    {
        if (Partitions is < 1 or > 10_000)
        {
            throw new ArgumentOutOfRangeException(nameof(Partitions), Partitions, "A topic has 1 to 10,000 partitions.");
        }

        // Positions in index entries are u32, so a segment must stay well under 4 GiB.
        if (SegmentBytes is < (1L << 20) or > (1L << 30))
        {
            throw new ArgumentOutOfRangeException(nameof(SegmentBytes), SegmentBytes, "Segments are 1 MiB to 1 GiB.");
        }

        if (IndexIntervalBytes is < (4 << 10) or > (16 << 20))
        {
            throw new ArgumentOutOfRangeException(nameof(IndexIntervalBytes), IndexIntervalBytes, "The index interval is 4 KiB to 16 MiB.");
        }

        if (Compression.Kind == CompressionKind.Zstd && Compression.Level is < 1 or > 19)
        {
            throw new ArgumentOutOfRangeException(nameof(Compression), Compression.Level, "zstd levels are 1 to 19.");
        }

        Retention.Validate();
    }
}
