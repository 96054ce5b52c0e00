using System.Diagnostics;
using Halfhour.Log.Commit;
using Halfhour.Log.Tests.Support;

namespace Halfhour.Log.Tests.Commit;

public class CommitPolicyTests : InTempDirectory
{
    private static CommitWindow Window(long bytes, TimeSpan waited, long lastBytes = 0, double lastFlushMs = 0)
        => new(bytes, 1, waited, TimeSpan.FromMilliseconds(lastFlushMs), lastBytes);

    [Fact]
    public void The_bytes_policy_commits_at_its_threshold_or_after_its_delay()
    {
        var policy = CommitPolicy.ByBytes(1000, TimeSpan.FromMilliseconds(10));
        Assert.True(policy.DelayBeforeCommit(Window(1000, TimeSpan.Zero)) <= TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromMilliseconds(6), policy.DelayBeforeCommit(Window(10, TimeSpan.FromMilliseconds(4))));
        Assert.True(policy.DelayBeforeCommit(Window(10, TimeSpan.FromMilliseconds(10))) <= TimeSpan.Zero);
    }

    [Fact]
    public void The_adaptive_policy_waits_a_fraction_of_an_fsync_only_while_load_rises()
    {
        var policy = CommitPolicy.Adaptive(TimeSpan.FromMilliseconds(2));
        Assert.True(policy.DelayBeforeCommit(Window(5000, TimeSpan.Zero, lastBytes: 4000, lastFlushMs: 4)) <= TimeSpan.Zero);
        Assert.Equal(TimeSpan.FromMilliseconds(1), policy.DelayBeforeCommit(Window(100, TimeSpan.Zero, lastBytes: 4000, lastFlushMs: 4)));
        Assert.Equal(TimeSpan.FromMilliseconds(2), policy.DelayBeforeCommit(Window(100, TimeSpan.Zero, lastBytes: 4000, lastFlushMs: 100)));
    }

    [Fact]
    public async Task A_delay_policy_holds_a_lone_append_back_and_then_commits_it()
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null, CommitPolicy = CommitPolicy.ByDelay(TimeSpan.FromMilliseconds(150)) });
        log.CreateTopic("t");
        var clock = Stopwatch.StartNew();
        await log.AppendAsync("t", 0, Rec.Text("x"));
        Assert.True(clock.ElapsedMilliseconds >= 100, $"committed after {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Back_pressure_holds_producers_when_the_queue_is_full_and_every_append_completes()
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null, MaxQueuedBytes = 64 << 10 });
        log.CreateTopic("t", new Topics.TopicOptions { Partitions = 4 });
        var value = new string('x', 30_000);
        var tasks = new List<Task>();
        for (var i = 0; i < 200; i++)
        {
            tasks.Add(log.AppendAsync("t", i % 4, Rec.Text(value)).AsTask());
        }

        await Task.WhenAll(tasks);
        for (var p = 0; p < 4; p++)
        {
            Assert.Equal(50, log.GetBounds("t", p).NextOffset);
        }
    }

    [Fact]
    public async Task A_policy_that_throws_does_not_stop_commits()
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null, CommitPolicy = new ThrowingPolicy() });
        log.CreateTopic("t");
        Assert.Equal(0, await log.AppendAsync("t", 0, Rec.Text("x")).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private sealed class ThrowingPolicy : CommitPolicy
    {
        public override TimeSpan DelayBeforeCommit(in CommitWindow window) => throw new InvalidOperationException("broken policy");
    }
}
