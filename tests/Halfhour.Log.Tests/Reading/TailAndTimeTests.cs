using Halfhour.Log.Tests.Support;

namespace Halfhour.Log.Tests.Reading;

public class TailAndTimeTests : InTempDirectory
{
    [Fact]
    public async Task A_tail_follower_wakes_when_a_record_is_committed_without_polling()
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        log.CreateTopic("t");
        var waiting = log.WaitForDataAsync("t", 0, 0).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        await log.AppendAsync("t", 0, Rec.Text("hello"));

        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(log.WaitForDataAsync("t", 0, 0).IsCompletedSuccessfully);
        Assert.False(log.WaitForDataAsync("t", 0, 1).IsCompleted);
    }

    [Fact]
    public async Task Waiting_can_be_cancelled_and_closing_the_log_ends_the_wait()
    {
        var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        log.CreateTopic("t");
        using var cancel = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await log.WaitForDataAsync("t", 0, 0, cancel.Token));

        var waiting = log.WaitForDataAsync("t", 0, 0).AsTask();
        log.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Reading_from_a_timestamp_starts_at_the_first_record_appended_at_or_after_it()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null, TimeProvider = clock });
        log.CreateTopic("t", new Topics.TopicOptions { IndexIntervalBytes = 4096, SegmentBytes = 1 << 20 });
        var value = new string('x', 3000);
        for (var i = 0; i < 1000; i++)
        {
            await log.AppendAsync("t", 0, Rec.Text($"{i}:{value}"));
            clock.Advance(TimeSpan.FromMinutes(30));
        }

        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(0, log.FindOffset("t", 0, start.AddDays(-1)));
        Assert.Equal(48, log.FindOffset("t", 0, start.AddDays(1)));
        Assert.Equal(49, log.FindOffset("t", 0, start.AddDays(1).AddMinutes(1)));
        Assert.Equal(1000, log.FindOffset("t", 0, start.AddYears(1)));
        using var fromDay10 = log.ReadFromTimestamp("t", 0, start.AddDays(10), 1);
        foreach (var r in fromDay10)
        {
            Assert.Equal(480, r.Offset);
            Assert.Equal(start.AddDays(10), r.Timestamp);
            break;
        }
    }
}
