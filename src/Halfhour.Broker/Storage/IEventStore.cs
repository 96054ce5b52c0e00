namespace Halfhour.Broker.Storage;

/// <summary>
/// The event-log abstraction the broker stands on: named topics split into partitions, each an ordered
/// sequence of records (key + value) at offsets, and durable named cursors. Engine-neutral on purpose:
/// no files or segments here, and offsets are only ordered, not necessarily contiguous, so an engine
/// whose sequence numbers skip (a JetStream stream shared by several subjects) fits as well as the
/// embedded log.
/// </summary>
public interface IEventStore : IAsyncDisposable
{
    /// <summary>Creates the topic when it does not exist; an existing topic keeps its partition count.</summary>
    ValueTask EnsureTopicAsync(TopicSpec spec, CancellationToken cancellationToken = default);

    /// <summary>
    /// Appends every record as one group and completes, with each record's offset in the order given,
    /// once the whole group is as durable as its topics promise (<see cref="TopicDurability"/>).
    /// A failure means none of the group may be acknowledged to anyone. The store must not keep the writes' keys or
    /// values once the append has completed (either way): the caller reuses their buffers.
    /// </summary>
    ValueTask<long[]> AppendAsync(IReadOnlyList<EventWrite> writes, CancellationToken cancellationToken = default);

    /// <summary>
    /// True when every offset <see cref="AppendAsync"/> answers names the record just written with exactly the key and
    /// value given: the engine never answers a write with an earlier record's offset (as one that de-duplicates on
    /// <see cref="EventWrite.IdempotencyKey"/> does). Only then may the broker index what it appended from memory
    /// instead of reading it back. False unless an engine says so.
    /// </summary>
    bool AppendsAreExact => false;

    /// <summary>
    /// A number that changes whenever the engine may have renumbered or dropped the latest records of <paramref name="topic"/>
    /// after a reader saw them: on a JetStream cluster, a new stream leader (nats-server 2.9 can number the last records
    /// its predecessor served differently, or lose them). A reader following the topic's tail reads back over its recent
    /// records when the number changes. Constant on an engine that never does this (the default).
    /// </summary>
    long TailEpoch(string topic) => 0;

    /// <summary>
    /// Makes every record appended so far to <see cref="TopicDurability.Derived"/> topics durable; a
    /// deriving writer calls it before recording how far it has derived.
    /// </summary>
    ValueTask FlushDerivedAsync(CancellationToken cancellationToken = default);

    /// <summary>The names of every topic.</summary>
    ValueTask<IReadOnlyList<string>> ListTopicsAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads records of one partition from <paramref name="fromOffset"/> (about <paramref name="maxBytes"/>, at least one when any exists).</summary>
    ValueTask<EventBatch> ReadAsync(string topic, int partition, long fromOffset, int maxBytes, CancellationToken cancellationToken = default);

    /// <summary>The first offset still held and the offset the next record will get.</summary>
    ValueTask<PartitionRange> RangeAsync(string topic, int partition, CancellationToken cancellationToken = default);

    /// <summary>The offset of the first record stored at or after <paramref name="timestamp"/>.</summary>
    ValueTask<long> OffsetAtAsync(string topic, int partition, DateTimeOffset timestamp, CancellationToken cancellationToken = default);

    /// <summary>Completes when the partition holds a record at or past <paramref name="offset"/>, without polling.</summary>
    ValueTask WaitForAsync(string topic, int partition, long offset, CancellationToken cancellationToken = default);

    /// <summary>The stored value of a named cursor, or null.</summary>
    ValueTask<long?> GetCursorAsync(string name, string topic, int partition, CancellationToken cancellationToken = default);

    /// <summary>Every stored cursor value of a name.</summary>
    ValueTask<IReadOnlyList<CursorUpdate>> GetCursorsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Stores several cursors atomically and durably.</summary>
    ValueTask CommitCursorsAsync(IReadOnlyList<CursorUpdate> updates, CancellationToken cancellationToken = default);
}

/// <summary>How durable a topic's records are when an append completes.</summary>
public enum TopicDurability
{
    /// <summary>On stable storage (fsynced or replicated): the source of truth.</summary>
    Durable = 0,

    /// <summary>
    /// Survives the process but maybe not the machine: for data the broker can derive again from durable
    /// topics (delivery inboxes), whose writers keep a durable watermark of what they have derived.
    /// </summary>
    Derived = 1,
}

/// <summary>A topic to create: name, partitions, durability, and how long records are kept.</summary>
/// <param name="Name">The topic's name.</param>
/// <param name="Partitions">How many partitions it has.</param>
/// <param name="Durability">How durable an acknowledged append is.</param>
/// <param name="RetainFor">How long records are kept at least; null keeps them until deleted by the operator.</param>
/// <param name="Compressed">Whether batches are compressed.</param>
public sealed record TopicSpec(string Name, int Partitions, TopicDurability Durability = TopicDurability.Durable, TimeSpan? RetainFor = null, bool Compressed = false);

/// <summary>One record to append to one partition of one topic.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Partition">The partition.</param>
/// <param name="Key">The record's key (e.g. the MPAN), may be empty.</param>
/// <param name="Value">The record's value.</param>
/// <param name="IdempotencyKey">
/// Names the record for engines whose group append is not atomic (JetStream): a write carrying a key the
/// engine stored within its de-duplication window is not stored again, and its offset is the original's.
/// Null for records whose repeat is harmless. Engines with an atomic group append ignore it.
/// </param>
public readonly record struct EventWrite(string Topic, int Partition, ReadOnlyMemory<byte> Key, ReadOnlyMemory<byte> Value, string? IdempotencyKey = null);

/// <summary>The offsets of a partition: the first held and the next to be given.</summary>
/// <param name="Start">The first offset still held.</param>
/// <param name="Next">The offset the next record will get.</param>
public readonly record struct PartitionRange(long Start, long Next);

/// <summary>A cursor value to store.</summary>
/// <param name="Name">The cursor's name (a subscription).</param>
/// <param name="Topic">The topic.</param>
/// <param name="Partition">The partition.</param>
/// <param name="Offset">The value.</param>
public readonly record struct CursorUpdate(string Name, string Topic, int Partition, long Offset);

/// <summary>One record read back.</summary>
/// <param name="Offset">Its offset in its partition.</param>
/// <param name="Timestamp">When the store accepted it.</param>
/// <param name="Key">Its key.</param>
/// <param name="Value">Its value.</param>
public readonly record struct StoredEvent(long Offset, DateTimeOffset Timestamp, ReadOnlyMemory<byte> Key, ReadOnlyMemory<byte> Value);

/// <summary>
/// Records read from one partition. Their memory may belong to the engine's pooled buffers: use them
/// before disposing the batch, and copy what must outlive it.
/// </summary>
public abstract class EventBatch : IDisposable
{
    /// <summary>The records, in offset order.</summary>
    public abstract IReadOnlyList<StoredEvent> Events { get; }

    /// <summary>The offset to read from next.</summary>
    public abstract long NextOffset { get; }

    /// <summary>Returns the batch's buffers to the engine.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the batch's buffers.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}
