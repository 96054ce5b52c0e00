namespace Halfhour.Log.Records;

/// <summary>A read asked for an offset the partition does not hold (deleted by retention, or past its end).</summary>
public sealed class OffsetOutOfRangeException : ArgumentOutOfRangeException
{
    /// <summary>Creates the exception with the partition's valid range.</summary>
    public OffsetOutOfRangeException(string topic, int partition, long offset, long startOffset, long nextOffset)
        : base("offset", offset, $"Topic {topic} partition {partition} holds offsets {startOffset} to {nextOffset - 1} (next {nextOffset}); {offset} is outside.")
    {
        StartOffset = startOffset;
        NextOffset = nextOffset;
    }

    /// <summary>The oldest offset the partition still holds.</summary>
    public long StartOffset { get; }

    /// <summary>The offset the next appended record will get.</summary>
    public long NextOffset { get; }
}
