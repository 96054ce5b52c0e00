using Halfhour.Broker.Storage;

namespace Halfhour.Broker.Tests.Support;

/// <summary>
/// A store that passes every call to <paramref name="inner"/>: a test overrides the calls it makes fail or change. Disposing
/// it leaves the inner store (the test's) open.
/// </summary>
public abstract class DelegatingEventStore(IEventStore inner) : IEventStore
{
    protected IEventStore Inner { get; } = inner;

    public virtual ValueTask<EventBatch> ReadAsync(string topic, int partition, long fromOffset, int maxBytes, CancellationToken cancellationToken = default)
        => Inner.ReadAsync(topic, partition, fromOffset, maxBytes, cancellationToken);

    public virtual long TailEpoch(string topic) => Inner.TailEpoch(topic);

    public virtual ValueTask EnsureTopicAsync(TopicSpec spec, CancellationToken cancellationToken = default) => Inner.EnsureTopicAsync(spec, cancellationToken);

    public ValueTask<long[]> AppendAsync(IReadOnlyList<EventWrite> writes, CancellationToken cancellationToken = default) => Inner.AppendAsync(writes, cancellationToken);

    public ValueTask FlushDerivedAsync(CancellationToken cancellationToken = default) => Inner.FlushDerivedAsync(cancellationToken);

    public ValueTask<IReadOnlyList<string>> ListTopicsAsync(CancellationToken cancellationToken = default) => Inner.ListTopicsAsync(cancellationToken);

    public ValueTask<PartitionRange> RangeAsync(string topic, int partition, CancellationToken cancellationToken = default) => Inner.RangeAsync(topic, partition, cancellationToken);

    public ValueTask<long> OffsetAtAsync(string topic, int partition, DateTimeOffset timestamp, CancellationToken cancellationToken = default)
        => Inner.OffsetAtAsync(topic, partition, timestamp, cancellationToken);

    public ValueTask WaitForAsync(string topic, int partition, long offset, CancellationToken cancellationToken = default)
        => Inner.WaitForAsync(topic, partition, offset, cancellationToken);

    public ValueTask<long?> GetCursorAsync(string name, string topic, int partition, CancellationToken cancellationToken = default)
        => Inner.GetCursorAsync(name, topic, partition, cancellationToken);

    public ValueTask<IReadOnlyList<CursorUpdate>> GetCursorsAsync(string name, CancellationToken cancellationToken = default) => Inner.GetCursorsAsync(name, cancellationToken);

    public ValueTask CommitCursorsAsync(IReadOnlyList<CursorUpdate> updates, CancellationToken cancellationToken = default) => Inner.CommitCursorsAsync(updates, cancellationToken);

    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}
