using System.Text;
using Halfhour.Broker.Storage;
using Halfhour.Engines.Nats.Cursors;
using Halfhour.Engines.Nats.Streams;
using Halfhour.Engines.Nats.Tests.Servers;

namespace Halfhour.Engines.Nats.Tests.Store;

/// <summary>What the JetStream engine adds to the engine-neutral contract (which Halfhour.Broker.Tests runs on both engines).</summary>
public sealed class JetStreamSpecificTests : IAsyncLifetime
{
    private JetStreamStoreOptions _options = null!;
    private JetStreamEventStore _store = null!;

    public async Task InitializeAsync()
    {
        _options = await SharedNatsServer.NewStoreOptionsAsync();
        _store = await JetStreamEventStore.ConnectAsync(_options);
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task A_retried_write_with_the_same_idempotency_key_gets_the_original_offset_and_is_stored_once()
    {
        await _store.EnsureTopicAsync(new TopicSpec("DEV.IF-021", 2));
        var first = await _store.AppendAsync([new EventWrite("DEV.IF-021", 1, default, Bytes("m1"), "DEV:1000000001:ref-1"), new EventWrite("DEV.IF-021", 1, default, Bytes("m2"), "DEV:1000000001:ref-2")]);

        // The retry of a group whose first record was stored before the group failed.
        var retry = await _store.AppendAsync([new EventWrite("DEV.IF-021", 1, default, Bytes("m1"), "DEV:1000000001:ref-1"), new EventWrite("DEV.IF-021", 1, default, Bytes("m3"), "DEV:1000000001:ref-3")]);

        Assert.Equal(first[0], retry[0]);
        using var batch = await _store.ReadAsync("DEV.IF-021", 1, 0, 1 << 20);
        Assert.Equal(["m1", "m2", "m3"], batch.Events.Select(e => Encoding.UTF8.GetString(e.Value.Span)));
    }

    [Fact]
    public async Task A_topic_with_a_retention_period_drops_records_older_than_it()
    {
        await _store.EnsureTopicAsync(new TopicSpec("DEV.IF-022", 1, RetainFor: TimeSpan.FromSeconds(1)));
        await _store.AppendAsync([new EventWrite("DEV.IF-022", 0, default, Bytes("old"))]);

        await Task.Delay(TimeSpan.FromSeconds(2.5)); // the server expires by age about once a second

        var fresh = await _store.AppendAsync([new EventWrite("DEV.IF-022", 0, default, Bytes("new"))]);
        var range = await _store.RangeAsync("DEV.IF-022", 0);
        Assert.Equal(fresh[0], range.Start);
        using var batch = await _store.ReadAsync("DEV.IF-022", 0, 0, 1 << 20);
        Assert.Equal("new", Encoding.UTF8.GetString(Assert.Single(batch.Events).Value.Span));
    }

    [Fact]
    public async Task A_setting_the_server_does_not_honour_fails_loudly_rather_than_silently()
    {
        // nats-server 2.9 has no stream compression and drops the field without an error.
        try
        {
            await _store.EnsureTopicAsync(new TopicSpec("DEV.IF-023", 1, Compressed: true));
        }
        catch (InvalidOperationException ex)
        {
            Assert.Contains("compression", ex.Message, StringComparison.Ordinal);
            return;
        }

        // A newer server honours it; then it must really be on.
        Assert.True(true);
    }

    [Fact]
    public async Task A_record_of_any_size_is_readable_even_when_larger_than_the_read_budget()
    {
        await _store.EnsureTopicAsync(new TopicSpec("DEV.IF-024", 1));
        await _store.AppendAsync([new EventWrite("DEV.IF-024", 0, Bytes("k"), new byte[200_000])]);

        using var batch = await _store.ReadAsync("DEV.IF-024", 0, 0, 1024);
        Assert.Equal(200_000, Assert.Single(batch.Events).Value.Length);
        Assert.Equal("k", Encoding.UTF8.GetString(batch.Events[0].Key.Span));
    }

    [Fact]
    public void Topic_names_become_valid_stream_names_and_partition_subjects()
    {
        var naming = new StreamNaming("HH", "hh");
        Assert.Equal("HH_DEV_IF-021", naming.StreamOf("DEV.IF-021"));
        Assert.Equal("HH_DEV_inbox_1000000004_IF-021", naming.StreamOf("DEV.inbox.1000000004.IF-021"));
        Assert.Equal("hh.DEV.IF-021.3", naming.SubjectOf("DEV.IF-021", 3));
        Assert.Equal("DEV.inbox.1000000004.IF-021", naming.TopicOfWildcard(naming.WildcardOf("DEV.inbox.1000000004.IF-021")));
    }

    [Fact]
    public void Cursor_names_map_to_distinct_valid_keys()
    {
        Assert.Equal("sub.1000000004.IF-021", KvCursorStore.KeyOf("sub.1000000004.IF-021"));
        Assert.Equal("indexer", KvCursorStore.KeyOf("indexer"));
        Assert.NotEqual(KvCursorStore.KeyOf("a b"), KvCursorStore.KeyOf("a_b"));
        Assert.Matches("^[-/_=.a-zA-Z0-9]+$", KvCursorStore.KeyOf("sub ünïcode*>"));
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
