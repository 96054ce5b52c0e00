using System.Text;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Tests.Support;

namespace Halfhour.Broker.Tests.Storage;

/// <summary>What every <see cref="IEventStore"/> engine promises the broker; one concrete class per engine.</summary>
public abstract class EventStoreContractTests(EngineKind engine) : IAsyncLifetime
{
    private EngineHome _home = null!;
    private IEventStore _store = null!;

    public async Task InitializeAsync()
    {
        _home = await EngineHome.CreateAsync(engine);
        _store = await _home.OpenAsync();
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _home.DisposeAsync();
    }

    [Fact]
    public async Task A_group_gets_offsets_that_increase_per_partition_and_reads_back_in_order_with_keys()
    {
        await _store.EnsureTopicAsync(new TopicSpec("DEV.IF-021", 3));
        var writes = new List<EventWrite>();
        for (var i = 0; i < 12; i++)
        {
            writes.Add(new EventWrite("DEV.IF-021", i % 3, Bytes($"k{i}"), Bytes($"v{i}")));
        }

        var offsets = await _store.AppendAsync(writes);

        for (var p = 0; p < 3; p++)
        {
            var mine = Enumerable.Range(0, 12).Where(i => i % 3 == p).ToList();
            Assert.True(mine.Zip(mine.Skip(1)).All(pair => offsets[pair.First] < offsets[pair.Second]));
            var range = await _store.RangeAsync("DEV.IF-021", p);
            using var batch = await _store.ReadAsync("DEV.IF-021", p, range.Start, 1 << 20);
            Assert.Equal(mine.Select(i => $"v{i}"), batch.Events.Select(e => Text(e.Value)));
            Assert.Equal(mine.Select(i => $"k{i}"), batch.Events.Select(e => Text(e.Key)));
            Assert.Equal(mine.Select(i => offsets[i]), batch.Events.Select(e => e.Offset));
            Assert.Equal(range.Next, Math.Max(range.Next, batch.NextOffset));
        }
    }

    [Fact]
    public async Task A_read_is_bounded_by_bytes_yet_returns_at_least_one_record_and_continues_from_next_offset()
    {
        await _store.EnsureTopicAsync(new TopicSpec("DEV.IF-003", 1));
        for (var i = 0; i < 20; i++)
        {
            await _store.AppendAsync([new EventWrite("DEV.IF-003", 0, default, new byte[1000])]);
        }

        var position = (await _store.RangeAsync("DEV.IF-003", 0)).Start;

        var seen = 0;
        while (true)
        {
            using var batch = await _store.ReadAsync("DEV.IF-003", 0, position, 1);
            if (batch.Events.Count == 0)
            {
                break;
            }

            Assert.True(batch.Events.Count <= 2, "a one-byte read returns about one record");
            seen += batch.Events.Count;
            position = batch.NextOffset;
        }

        Assert.Equal(20, seen);
    }

    [Fact]
    public async Task Range_starts_at_the_first_record_and_next_is_past_the_last_and_an_empty_partition_is_empty()
    {
        await _store.EnsureTopicAsync(new TopicSpec("audit", 2));
        var empty = await _store.RangeAsync("audit", 1);
        Assert.Equal(empty.Start, empty.Next);

        var offsets = await _store.AppendAsync([new EventWrite("audit", 0, default, Bytes("a")), new EventWrite("audit", 0, default, Bytes("b"))]);

        var range = await _store.RangeAsync("audit", 0);
        Assert.Equal(offsets[0], range.Start);
        Assert.True(range.Next > offsets[1]);
    }

    [Fact]
    public async Task Offset_at_a_time_is_the_first_record_stored_at_or_after_it()
    {
        await _store.EnsureTopicAsync(new TopicSpec("DEV.IF-004", 1));
        var first = await _store.AppendAsync([new EventWrite("DEV.IF-004", 0, default, Bytes("early"))]);
        await Task.Delay(50);
        var between = DateTimeOffset.UtcNow;
        await Task.Delay(50);
        var second = await _store.AppendAsync([new EventWrite("DEV.IF-004", 0, default, Bytes("late"))]);

        Assert.Equal(first[0], await _store.OffsetAtAsync("DEV.IF-004", 0, DateTimeOffset.UnixEpoch));
        Assert.Equal(second[0], await _store.OffsetAtAsync("DEV.IF-004", 0, between));
        Assert.True(await _store.OffsetAtAsync("DEV.IF-004", 0, DateTimeOffset.UtcNow.AddMinutes(1)) > second[0]);
    }

    [Fact]
    public async Task Waiting_for_an_offset_completes_when_a_record_arrives_there_and_not_before()
    {
        await _store.EnsureTopicAsync(new TopicSpec("DEV.inbox.1000000004.IF-021", 2, TopicDurability.Derived));
        var next = (await _store.RangeAsync("DEV.inbox.1000000004.IF-021", 0)).Next;
        var waiting = _store.WaitForAsync("DEV.inbox.1000000004.IF-021", 0, next).AsTask();

        await _store.AppendAsync([new EventWrite("DEV.inbox.1000000004.IF-021", 1, default, Bytes("other partition"))]);
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted, "a record in another partition does not wake the waiter");

        await _store.AppendAsync([new EventWrite("DEV.inbox.1000000004.IF-021", 0, default, Bytes("mine"))]);
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        // Waiting for what is already there completes at once.
        await _store.WaitForAsync("DEV.inbox.1000000004.IF-021", 0, next).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_reader_of_one_partition_never_sees_another_partitions_records()
    {
        await _store.EnsureTopicAsync(new TopicSpec("DEV.IF-005", 4));
        await _store.AppendAsync([.. Enumerable.Range(0, 40).Select(i => new EventWrite("DEV.IF-005", i % 4, default, Bytes($"p{i % 4}")))]);

        using var batch = await _store.ReadAsync("DEV.IF-005", 2, 0, 1 << 20);
        Assert.Equal(10, batch.Events.Count);
        Assert.All(batch.Events, e => Assert.Equal("p2", Text(e.Value)));
    }

    [Fact]
    public async Task Cursors_of_one_name_commit_together_and_are_read_back_after_reopening()
    {
        await _store.CommitCursorsAsync([new CursorUpdate("sub.1000000004.IF-021", "DEV.IF-021", 0, 10), new CursorUpdate("sub.1000000004.IF-021", "DEV.IF-021", 1, 20)]);
        await _store.CommitCursorsAsync([new CursorUpdate("sub.1000000004.IF-021", "DEV.IF-021", 1, 25), new CursorUpdate("indexer", "DEV.IF-021", 0, 7)]);

        await _store.DisposeAsync();
        _store = await _home.OpenAsync();

        Assert.Equal(10, await _store.GetCursorAsync("sub.1000000004.IF-021", "DEV.IF-021", 0));
        Assert.Equal(25, await _store.GetCursorAsync("sub.1000000004.IF-021", "DEV.IF-021", 1));
        Assert.Null(await _store.GetCursorAsync("sub.1000000004.IF-021", "DEV.IF-021", 2));
        Assert.Equal([(0, 10L), (1, 25L)], (await _store.GetCursorsAsync("sub.1000000004.IF-021")).Select(c => (c.Partition, c.Offset)).Order());
        Assert.Equal(7, await _store.GetCursorAsync("indexer", "DEV.IF-021", 0));
    }

    [Fact]
    public async Task Topics_and_their_records_survive_reopening_and_an_existing_topic_keeps_its_partitions()
    {
        await _store.EnsureTopicAsync(new TopicSpec("DEV.IF-021", 2));
        await _store.EnsureTopicAsync(new TopicSpec("config.webhooks", 1));
        var offsets = await _store.AppendAsync([new EventWrite("DEV.IF-021", 1, Bytes("k"), Bytes("kept"))]);

        await _store.DisposeAsync();
        _store = await _home.OpenAsync();
        await _store.EnsureTopicAsync(new TopicSpec("DEV.IF-021", 5));

        Assert.Equal(["DEV.IF-021", "config.webhooks"], (await _store.ListTopicsAsync()).Order(StringComparer.Ordinal));
        using var batch = await _store.ReadAsync("DEV.IF-021", 1, offsets[0], 1 << 20);
        Assert.Equal("kept", Text(batch.Events.Single().Value));
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);
}

public sealed class EmbeddedEventStoreContractTests() : EventStoreContractTests(EngineKind.Embedded);

public sealed class JetStreamEventStoreContractTests() : EventStoreContractTests(EngineKind.JetStream);
