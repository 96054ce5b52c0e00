using Halfhour.Log.Records;
using Halfhour.Log.Tests.Support;
using Halfhour.Log.Topics;

namespace Halfhour.Log.Tests.Appending;

public class AppendTests : InTempDirectory
{
    [Fact]
    public async Task Appended_records_read_back_with_their_offsets_keys_headers_and_values()
    {
        using var log = EventLog.Open(Dir.Path);
        log.CreateTopic("consumption", new TopicOptions { Partitions = 2 });
        var first = await log.AppendAsync("consumption", 1, Rec.Text("v0", "1234567890123", ("interface", "IF-021"), ("env", "SIT")));
        var rest = await log.AppendAsync("consumption", 1, [Rec.Text("v1"), Rec.Text("v2", "k2")]);

        Assert.Equal(0, first);
        Assert.Equal(new AppendResult(1, 2), rest);
        using var read = log.Read("consumption", 1, 0);
        var records = new List<LogRecord>();
        foreach (var r in read)
        {
            records.Add(r);
        }

        Assert.Equal([0L, 1, 2], records.ConvertAll(r => r.Offset));
        Assert.Equal("1234567890123", Rec.Text(records[0].Key));
        Assert.Equal(2, records[0].Headers.Count);
        Assert.True(records[0].Headers.TryGetValue("env", out var env));
        Assert.Equal("SIT", Rec.Text(env));
        var names = new List<string>();
        foreach (var h in records[0].Headers)
        {
            names.Add(h.Name);
        }

        Assert.Equal(["interface", "env"], names);
        Assert.True(records[1].Key.IsEmpty);
        Assert.Equal("v2", Rec.Text(records[2].Value));
        Assert.Equal(3, read.NextOffset);
        Assert.Equal(new PartitionBounds(0, 0), log.GetBounds("consumption", 0));
    }

    [Fact]
    public async Task A_multi_partition_append_returns_each_offset_in_request_order_after_one_shared_commit()
    {
        using var log = EventLog.Open(Dir.Path);
        log.CreateTopic("a", new TopicOptions { Partitions = 3 });
        log.CreateTopic("b");
        await log.AppendAsync("a", 2, Rec.Text("earlier"));
        var commitsBefore = log.CommitMetrics.Commits;

        var requests = new List<AppendRequest>();
        for (var i = 0; i < 100; i++)
        {
            requests.Add(new AppendRequest(i % 4 == 3 ? "b" : "a", i % 4 == 3 ? 0 : i % 3, Rec.Text($"m{i}")));
        }

        var offsets = await log.AppendAsync(requests);

        Assert.Equal(1, log.CommitMetrics.Commits - commitsBefore);
        var expectedNext = new Dictionary<(string, int), long> { [("a", 0)] = 0, [("a", 1)] = 0, [("a", 2)] = 1, [("b", 0)] = 0 };
        for (var i = 0; i < requests.Count; i++)
        {
            var key = (requests[i].Topic, requests[i].Partition);
            Assert.Equal(expectedNext[key]++, offsets[i]);
            using var read = log.Read(requests[i].Topic, requests[i].Partition, offsets[i]);
            foreach (var r in read)
            {
                Assert.Equal($"m{i}", Rec.Text(r.Value));
                break;
            }
        }
    }

    [Fact]
    public async Task Concurrent_producers_get_gap_free_offsets_and_share_fsyncs()
    {
        using var log = EventLog.Open(Dir.Path);
        log.CreateTopic("t");
        const int producers = 8, each = 200;
        var tasks = new Task[producers];
        for (var p = 0; p < producers; p++)
        {
            var id = p;
            tasks[p] = Task.Run(async () =>
            {
                for (var i = 0; i < each; i++)
                {
                    await log.AppendAsync("t", 0, Rec.Text($"{id}:{i}"));
                }
            });
        }

        await Task.WhenAll(tasks);

        var all = Rec.ReadAll(log, "t", 0);
        Assert.Equal(producers * each, all.Count);
        for (var i = 0; i < all.Count; i++)
        {
            Assert.Equal(i, all[i].Offset);
        }

        // Each producer's own records stay in its order.
        var lastSeen = new int[producers];
        Array.Fill(lastSeen, -1);
        foreach (var (_, value) in all)
        {
            var parts = value.Split(':');
            var id = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
            var n = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(lastSeen[id] + 1, n);
            lastSeen[id] = n;
        }

        Assert.True(log.CommitMetrics.Fsyncs < producers * each, $"{log.CommitMetrics.Fsyncs} fsyncs for {producers * each} appends");
    }

    [Fact]
    public async Task Records_survive_reopening_and_offsets_continue()
    {
        using (var log = EventLog.Open(Dir.Path))
        {
            log.CreateTopic("t", new TopicOptions { Partitions = 2 });
            await log.AppendAsync("t", 1, [Rec.Text("a"), Rec.Text("b")]);
        }

        using (var log = EventLog.Open(Dir.Path))
        {
            Assert.Equal(2, log.GetTopicOptions("t").Partitions);
            Assert.Equal(2, await log.AppendAsync("t", 1, Rec.Text("c")));
            Assert.Equal([(0L, "a"), (1, "b"), (2, "c")], Rec.ReadAll(log, "t", 1));
        }
    }

    [Fact]
    public async Task Segments_roll_at_their_size_and_reads_cross_segment_boundaries()
    {
        using var log = EventLog.Open(Dir.Path);
        log.CreateTopic("t", new TopicOptions { SegmentBytes = 1 << 20, IndexIntervalBytes = 4096 });
        var value = new string('x', 10_000);
        for (var i = 0; i < 300; i++)
        {
            await log.AppendAsync("t", 0, Rec.Text($"{i}:{value}"));
        }

        var segments = Directory.GetFiles(Path.Combine(Dir.Path, "t", "0"), "*.log");
        Assert.True(segments.Length >= 3, $"{segments.Length} segments");
        var all = Rec.ReadAll(log, "t", 0, maxBytes: 50_000);
        Assert.Equal(300, all.Count);
        for (var i = 0; i < 300; i++)
        {
            Assert.StartsWith($"{i}:", all[i].Value, StringComparison.Ordinal);
        }

        // Reading from any offset finds it through the sparse index.
        using var middle = log.Read("t", 0, 157, 1);
        foreach (var r in middle)
        {
            Assert.Equal(157, r.Offset);
            break;
        }
    }

    [Fact]
    public void The_default_durability_is_fsync_and_never_os_cache()
    {
        Assert.Equal(Durability.Fsync, EventLogOptions.Default.Durability);
        Assert.Equal(Durability.Fsync, new EventLogOptions().Durability);
    }

    [Fact]
    public async Task Os_cache_durability_acknowledges_and_still_reads_back()
    {
        using (var log = EventLog.Open(Dir.Path, new EventLogOptions { Durability = Durability.OsCache }))
        {
            log.CreateTopic("t");
            await log.AppendAsync("t", 0, Rec.Text("fast"));
            Assert.Equal(0, log.CommitMetrics.Fsyncs);
        }

        using var reopened = EventLog.Open(Dir.Path);
        Assert.Equal([(0L, "fast")], Rec.ReadAll(reopened, "t", 0));
    }
}
