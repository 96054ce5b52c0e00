namespace Halfhour.Log.Records;

/// <summary>One named header of a record: a UTF-8 name and opaque bytes.</summary>
public readonly struct RecordHeader(string name, ReadOnlyMemory<byte> value)
{
    /// <summary>The header's name (stored as UTF-8, at most 65,535 bytes).</summary>
    public string Name { get; } = name;

    /// <summary>The header's value.</summary>
    public ReadOnlyMemory<byte> Value { get; } = value;
}

/// <summary>A record to append: value, optional key, optional headers. The log assigns its offset and timestamp.</summary>
public readonly struct AppendRecord(ReadOnlyMemory<byte> value, ReadOnlyMemory<byte> key = default, IReadOnlyList<RecordHeader>? headers = null)
{
    /// <summary>The record's payload.</summary>
    public ReadOnlyMemory<byte> Value { get; } = value;

    /// <summary>The record's key (empty when it has none), e.g. the MPAN the partition was chosen by.</summary>
    public ReadOnlyMemory<byte> Key { get; } = key;

    /// <summary>The record's headers, or null when it has none.</summary>
    public IReadOnlyList<RecordHeader>? Headers { get; } = headers;
}

/// <summary>One record bound for one partition of one topic, as part of a multi-partition append.</summary>
public readonly struct AppendRequest(string topic, int partition, AppendRecord record)
{
    /// <summary>The topic's name.</summary>
    public string Topic { get; } = topic;

    /// <summary>The partition, from 0 to the topic's partition count - 1.</summary>
    public int Partition { get; } = partition;

    /// <summary>The record.</summary>
    public AppendRecord Record { get; } = record;
}

/// <summary>The offsets given to the records of one single-partition append, which are consecutive.</summary>
public readonly record struct AppendResult(long FirstOffset, long LastOffset)
{
    /// <summary>How many records the append wrote.</summary>
    public long Count => LastOffset - FirstOffset + 1;
}
