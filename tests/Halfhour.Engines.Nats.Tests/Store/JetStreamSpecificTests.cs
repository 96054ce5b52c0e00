using System.Text;
using Halfhour.Broker.Storage;
using Halfhour.Engines.Nats.Cursors;
using Halfhour.Engines.Nats.Streams;
using Halfhour.Engines.Nats.Tests.Servers;
using NATS.Client.Core;

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

        // Accepted: then the server must really have it on (2.9 drops it, so this fails there if the check above is gone).
        await using var connection = new NatsConnection(_options.ToNatsOpts());
        var stream = await new NATS.Client.JetStream.NatsJSContext(connection).GetStreamAsync(_store.StreamOf("DEV.IF-023"));
        Assert.Equal(NATS.Client.JetStream.Models.StreamConfigCompression.S2, stream.Info.Config.Compression);
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
    public async Task A_long_read_of_a_single_partition_topic_takes_every_record_by_message_gets_and_creates_no_consumer()
    {
        // Every inbox is such a topic; a consumer create per read loaded nats-server 2.9's meta leader (~11 a second in the failover test).
        const string Inbox = "DEV.inbox.1000000004.IF-021";
        await _store.EnsureTopicAsync(new TopicSpec(Inbox, 1, TopicDurability.Derived));
        await _store.AppendAsync([.. Enumerable.Range(0, 1500).Select(n => new EventWrite(Inbox, 0, Bytes("k"), Bytes($"pointer {n}")))]);
        await using var creates = await ConsumerCreates.StartAsync(_options, _store.StreamOf(Inbox));

        var values = new List<string>();
        var reads = 0;
        for (var next = 0L; ; reads++)
        {
            using var batch = await _store.ReadAsync(Inbox, 0, next, 64 << 10);
            if (batch.Events.Count == 0)
            {
                Assert.Equal(1500, batch.NextOffset);
                break;
            }

            Assert.Equal(Enumerable.Range((int)next, batch.Events.Count).Select(o => (long)o), batch.Events.Select(e => e.Offset));
            values.AddRange(batch.Events.Select(e => Encoding.UTF8.GetString(e.Value.Span)));
            next = batch.NextOffset;
        }

        Assert.Equal(Enumerable.Range(0, 1500).Select(n => $"pointer {n}"), values);
        Assert.True(reads >= 2, "a read takes at most 1,024 records by gets; the caller reads on");
        Assert.Equal(0, await creates.CountAsync());
    }

    [Fact]
    public async Task A_partition_whose_records_come_to_interleave_with_other_partitions_reads_exactly_its_own_in_order()
    {
        // Partition 0 alone first (its records follow each other: read by gets in flight), then all three interleaved.
        const string Topic = "DEV.IF-025";
        await _store.EnsureTopicAsync(new TopicSpec(Topic, 3));
        var alone = Enumerable.Range(0, 40).Select(n => (Partition: 0, Value: $"p0-{n}")).ToList();
        var interleaved = Enumerable.Range(40, 60).SelectMany(n => Enumerable.Range(0, 3).Select(p => (Partition: p, Value: $"p{p}-{n}"))).ToList();
        await _store.AppendAsync([.. alone.Select(w => new EventWrite(Topic, w.Partition, Bytes("k"), Bytes(w.Value)))]);
        await _store.AppendAsync([.. interleaved.Select(w => new EventWrite(Topic, w.Partition, Bytes("k"), Bytes(w.Value)))]); // partitions side by side
        var writes = alone.Concat(interleaved).ToList();

        foreach (var (partition, from) in new (int, long)[] { (0, 0), (0, 25), (1, 0), (2, 0) })
        {
            var (records, _, _) = await ReadToEndAsync(Topic, partition, from, 1 << 20);
            Assert.Equal(writes.Where(w => w.Partition == partition).Select(w => w.Value).Skip(partition == 0 ? (int)from : 0), records.Select(r => r.Value));
        }

        // The interleaved records past the first gets came from consumers, each batch checked against the leader's gets and
        // kept: on one server the consumer reads the one copy there is (and the server reports no placement, so none is
        // off the leader; placement is decided in A_consumer_is_off_the_leader_only_when_…, met in the failover rounds).
        var figures = _store.ConsumerReads;
        Assert.True(figures.Reads > 0, "reads of an interleaved partition past its first 16 records use a consumer");
        Assert.Equal(0, figures.OffLeader);
        Assert.Equal(0, figures.Refused);
    }

    [Fact]
    public async Task A_reader_reading_on_from_where_it_stopped_creates_one_consumer_not_one_per_read()
    {
        // A wide topic's tail reader catching up: a consumer per read cost nats-server 2.9's meta leader a create and a delete
        // each, and three of each per useful read in a cluster (only a consumer placed on the stream's leader is read).
        const string Topic = "DEV.IF-027";
        await _store.EnsureTopicAsync(new TopicSpec(Topic, 3));
        var stream = _store.StreamOf(Topic);
        await AppendInterleavedAsync(Topic, 0, 400);

        await using var creates = await ConsumerCreates.StartAsync(_options, stream);
        await using var admin = new NatsConnection(_options.ToNatsOpts());
        var js = new NATS.Client.JetStream.NatsJSContext(admin);

        // Reads of about ten records: the first takes 16 by gets, then its consumer is parked and every later read reads on with it.
        var (records, reads, end) = await ReadToEndAsync(Topic, 1, 0, 2048);
        Assert.Equal(Enumerable.Range(0, 400).Select(n => $"p1-{n}"), records.Select(r => r.Value.TrimEnd('.')));
        Assert.True(reads > 10, $"the reads were small: {reads}");
        Assert.Equal(1, await creates.CountAsync());
        Assert.Equal(1, _store.ConsumerReads.Created);
        Assert.Equal(1, _store.ConsumerReads.Parked);

        // A read from elsewhere gets a consumer of its own (the parked one stays for the reader it serves); reading to the
        // end, it stops where the first stands, and one of the two is deleted rather than both parked.
        var (again, _, _) = await ReadToEndAsync(Topic, 1, records[150].Offset, 2048);
        Assert.Equal(Enumerable.Range(150, 250).Select(n => $"p1-{n}"), again.Select(r => r.Value.TrimEnd('.')));
        Assert.Equal(1, await creates.CountAsync()); // one more
        Assert.Equal(2, _store.ConsumerReads.Created);
        Assert.Single(await js.ListConsumerNamesAsync(stream).ToListAsync());
        Assert.Equal(1, _store.ConsumerReads.Parked);

        // The parked consumer gone behind the store's back (the server reaped it, or its node's memory went with a restart):
        // a fetch from it ends like an empty one, so the read must not take that for the partition's end.
        await js.DeleteConsumerAsync(stream, Assert.Single(await js.ListConsumerNamesAsync(stream).ToListAsync()));
        await AppendInterleavedAsync(Topic, 400, 50);
        var (after, _, _) = await ReadToEndAsync(Topic, 1, end, 2048); // where the reads stopped, and the parked consumer stands
        Assert.Equal(Enumerable.Range(400, 50).Select(n => $"p1-{n}"), after.Select(r => r.Value.TrimEnd('.')));
        Assert.Equal(1, await creates.CountAsync()); // a new one after the gets
        Assert.Equal(0, _store.ConsumerReads.Refused);
    }

    /// <summary>Appends records <paramref name="from"/> onwards of three partitions, one of each at a time, values of 100 bytes.</summary>
    private async Task AppendInterleavedAsync(string topic, int from, int count)
    {
        for (var n = from; n < from + count; n++)
        {
            await _store.AppendAsync([.. Enumerable.Range(0, 3).Select(p => new EventWrite(topic, p, Bytes("k"), Bytes($"p{p}-{n}".PadRight(100, '.'))))]);
        }
    }

    /// <summary>
    /// Reads a partition from <paramref name="from"/> to its end in reads of at most <paramref name="maxBytes"/>: the records'
    /// offsets and values, the number of reads, and the offset the last read ended at.
    /// </summary>
    private async Task<(List<(long Offset, string Value)> Records, int Reads, long End)> ReadToEndAsync(string topic, int partition, long from, int maxBytes)
    {
        var records = new List<(long, string)>();
        var reads = 0;
        for (var next = from; ; reads++)
        {
            using var batch = await _store.ReadAsync(topic, partition, next, maxBytes);
            if (batch.Events.Count == 0)
            {
                return (records, reads, batch.NextOffset);
            }

            records.AddRange(batch.Events.Select(e => (e.Offset, Encoding.UTF8.GetString(e.Value.Span))));
            next = batch.NextOffset;
        }
    }

    [Fact]
    public async Task The_offset_at_a_time_is_the_first_record_of_the_partition_stored_at_or_after_it()
    {
        // Two partitions side by side, written in bursts: many records share a time, and the partition's numbers have gaps.
        const string Topic = "DEV.IF-026";
        await _store.EnsureTopicAsync(new TopicSpec(Topic, 2));
        for (var burst = 0; burst < 6; burst++)
        {
            await _store.AppendAsync([.. Enumerable.Range(0, 40).Select(n => new EventWrite(Topic, n % 2, Bytes("k"), Bytes($"{burst}-{n}")))]);
            await Task.Delay(15);
        }

        // Each record as the leader's get gives it (a read's first record), so the times are the ones the search compares.
        var records = new List<StoredEvent>();
        for (var next = 0L; ;)
        {
            using var one = await _store.ReadAsync(Topic, 1, next, maxBytes: 1);
            if (one.Events.Count == 0)
            {
                break;
            }

            records.Add(one.Events[0]);
            next = one.Events[0].Offset + 1;
        }

        Assert.Equal(120, records.Count);
        var range = await _store.RangeAsync(Topic, 1);
        var times = records.Select(r => r.Timestamp).Distinct().ToList();
        foreach (var time in times.Concat(times.Select(t => t.AddTicks(1))).Append(DateTimeOffset.UnixEpoch).Append(DateTimeOffset.UtcNow.AddMinutes(1)))
        {
            var expected = records.FirstOrDefault(r => r.Timestamp >= time) is { Value.Length: > 0 } first ? first.Offset : range.Next;
            Assert.Equal(expected, await _store.OffsetAtAsync(Topic, 1, time));
        }
    }

    [Fact]
    public void A_consumer_is_off_the_leader_only_when_the_cluster_names_both_and_they_differ()
    {
        Assert.True(JetStreamEventStore.IsOffLeader("n1", "n3"));
        Assert.False(JetStreamEventStore.IsOffLeader("n1", "n1"));
        Assert.False(JetStreamEventStore.IsOffLeader(null, null)); // a single server: no cluster to be placed in
        Assert.False(JetStreamEventStore.IsOffLeader("n1", null));
        Assert.False(JetStreamEventStore.IsOffLeader(null, "n1"));
    }

    [Fact]
    public void A_consumer_record_is_the_leaders_only_with_the_same_offset_key_and_bytes()
    {
        var read = new StoredEvent(41, DateTimeOffset.UnixEpoch, Bytes("k1"), Bytes("g1973.p0"));
        Assert.True(JetStreamEventStore.Same(read, read with { Timestamp = DateTimeOffset.UtcNow })); // times are not compared: a consumer and a get encode them differently
        Assert.False(JetStreamEventStore.Same(read, null)); // the leader holds nothing there
        Assert.False(JetStreamEventStore.Same(read, read with { Offset = 45 })); // the subject's record there is a later one
        Assert.False(JetStreamEventStore.Same(read, read with { Value = Bytes("g1670.p0") }));
        Assert.False(JetStreamEventStore.Same(read, read with { Key = Bytes("k2") }));
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

    /// <summary>Counts the consumer create requests for one stream, as any client of the account sees them (a core subscription to the API subjects).</summary>
    private sealed class ConsumerCreates : IAsyncDisposable
    {
        private readonly NatsConnection _connection;
        private readonly INatsSub<byte[]>[] _subscriptions;

        private ConsumerCreates(NatsConnection connection, INatsSub<byte[]>[] subscriptions) => (_connection, _subscriptions) = (connection, subscriptions);

        public static async Task<ConsumerCreates> StartAsync(JetStreamStoreOptions options, string stream)
        {
            var connection = new NatsConnection(options.ToNatsOpts());
            INatsSub<byte[]>[] subscriptions =
            [
                await connection.SubscribeCoreAsync<byte[]>($"$JS.API.CONSUMER.CREATE.{stream}"),
                await connection.SubscribeCoreAsync<byte[]>($"$JS.API.CONSUMER.CREATE.{stream}.>"),
                await connection.SubscribeCoreAsync<byte[]>($"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>"),
            ];
            await connection.PingAsync();
            return new ConsumerCreates(connection, subscriptions);
        }

        /// <summary>The creates seen so far (after a round trip, so every request sent before the call has arrived).</summary>
        public async Task<int> CountAsync()
        {
            await _connection.PingAsync();
            var count = 0;
            foreach (var subscription in _subscriptions)
            {
                while (subscription.Msgs.TryRead(out _))
                {
                    count++;
                }
            }

            return count;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var subscription in _subscriptions)
            {
                await subscription.DisposeAsync();
            }

            await _connection.DisposeAsync();
        }
    }
}
