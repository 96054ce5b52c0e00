using Halfhour.Log.Records;
using Halfhour.Log.Tests.Support;
using Halfhour.Log.Topics;

namespace Halfhour.Log.Tests.Appending;

public class BadInputTests : InTempDirectory
{
    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("-starts-with-dash")]
    [InlineData("has/slash")]
    [InlineData("has space")]
    [InlineData("ünicode")]
    public void Invalid_topic_names_are_refused_with_an_argument_exception(string name)
    {
        using var log = EventLog.Open(Dir.Path);
        var e = Assert.Throws<ArgumentException>(() => log.CreateTopic(name));
        Assert.Contains("invalid", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Topic_names_follow_the_documented_pattern()
    {
        Assert.True(TopicName.IsValid("IF-021.consumption_v1"));
        Assert.True(TopicName.IsValid(new string('a', 200)));
        Assert.False(TopicName.IsValid(new string('a', 201)));
    }

    [Fact]
    public async Task An_oversized_record_is_refused_and_leaves_no_trace()
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { MaxRecordBytes = 1000 });
        log.CreateTopic("t");
        await Assert.ThrowsAsync<ArgumentException>(async () => await log.AppendAsync("t", 0, new AppendRecord(new byte[1000])));
        await Assert.ThrowsAsync<ArgumentException>(async () => await log.AppendAsync([new AppendRequest("t", 0, Rec.Text("ok")), new AppendRequest("t", 0, new AppendRecord(new byte[2000]))]));
        Assert.Equal(0, await log.AppendAsync("t", 0, Rec.Text("fits")));
        Assert.Equal([(0L, "fits")], Rec.ReadAll(log, "t", 0));
    }

    [Fact]
    public async Task Empty_appends_are_refused()
    {
        using var log = EventLog.Open(Dir.Path);
        log.CreateTopic("t");
        await Assert.ThrowsAsync<ArgumentException>(async () => await log.AppendAsync("t", 0, Array.Empty<AppendRecord>()));
        await Assert.ThrowsAsync<ArgumentException>(async () => await log.AppendAsync(Array.Empty<AppendRequest>()));
    }

    [Fact]
    public async Task Unknown_topics_and_partitions_are_named_in_the_exception()
    {
        using var log = EventLog.Open(Dir.Path);
        log.CreateTopic("t", new TopicOptions { Partitions = 2 });
        var missing = await Assert.ThrowsAsync<KeyNotFoundException>(async () => await log.AppendAsync("nope", 0, Rec.Text("x")));
        Assert.Contains("nope", missing.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await log.AppendAsync("t", 2, Rec.Text("x")));
        Assert.Throws<ArgumentException>(() => log.Read("bad name", 0, 0));
    }

    [Fact]
    public void Recreating_a_topic_with_other_options_is_refused()
    {
        using var log = EventLog.Open(Dir.Path);
        log.CreateTopic("t", new TopicOptions { Partitions = 2 });
        log.CreateTopic("t", new TopicOptions { Partitions = 2 });
        Assert.Throws<InvalidOperationException>(() => log.CreateTopic("t", new TopicOptions { Partitions = 3 }));
    }

    [Fact]
    public async Task Reads_at_the_end_are_empty_and_past_the_end_or_before_the_start_throw()
    {
        using var log = EventLog.Open(Dir.Path);
        log.CreateTopic("t");
        await log.AppendAsync("t", 0, Rec.Text("only"));
        using (var atEnd = log.Read("t", 0, 1))
        {
            Assert.True(atEnd.IsEmpty);
        }

        var past = Assert.Throws<OffsetOutOfRangeException>(() => log.Read("t", 0, 5));
        Assert.Equal(1, past.NextOffset);
        Assert.Throws<OffsetOutOfRangeException>(() => log.Read("t", 0, -1));
    }

    [Fact]
    public async Task Use_after_close_throws_object_disposed()
    {
        var log = EventLog.Open(Dir.Path);
        log.CreateTopic("t");
        log.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await log.AppendAsync("t", 0, Rec.Text("x")));
        Assert.Throws<ObjectDisposedException>(() => log.Read("t", 0, 0));
        Assert.Throws<ObjectDisposedException>(() => log.CreateTopic("u"));
        log.Dispose();
    }

    [Fact]
    public void A_second_open_of_the_same_directory_is_refused()
    {
        using var log = EventLog.Open(Dir.Path);
        var e = Assert.Throws<IOException>(() => EventLog.Open(Dir.Path));
        Assert.Contains("in use", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Closing_during_concurrent_appends_loses_no_acknowledged_record_and_corrupts_nothing()
    {
        var acknowledged = new System.Collections.Concurrent.ConcurrentBag<long>();
        var log = EventLog.Open(Dir.Path);
        log.CreateTopic("t");
        var producers = new Task[4];
        for (var p = 0; p < producers.Length; p++)
        {
            producers[p] = Task.Run(async () =>
            {
                try
                {
                    while (true)
                    {
                        acknowledged.Add(await log.AppendAsync("t", 0, Rec.Text("payload")));
                    }
                }
                catch (ObjectDisposedException)
                {
                }
            });
        }

        await Task.Delay(200);
        log.Dispose();
        await Task.WhenAll(producers);

        using var reopened = EventLog.Open(Dir.Path);
        var all = Rec.ReadAll(reopened, "t", 0);
        Assert.NotEmpty(acknowledged);
        Assert.True(all.Count >= acknowledged.Count);
        foreach (var offset in acknowledged)
        {
            Assert.Equal(offset, all[(int)offset].Offset);
        }
    }
}
