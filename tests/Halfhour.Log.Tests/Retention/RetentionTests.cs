using Halfhour.Log.Records;
using Halfhour.Log.Retention;
using Halfhour.Log.Tests.Support;
using Halfhour.Log.Topics;

namespace Halfhour.Log.Tests.Retention;

public class RetentionTests : InTempDirectory
{
    private static readonly string Value = new('v', 20_000);

    private static async Task Fill(EventLog log, string topic, int records)
    {
        for (var i = 0; i < records; i++)
        {
            await log.AppendAsync(topic, 0, Rec.Text($"{i}:{Value}"));
        }
    }

    [Fact]
    public async Task Retention_by_size_deletes_whole_sealed_segments_oldest_first_after_calling_the_hook()
    {
        var hooked = new List<SegmentDeletion>();
        using var log = EventLog.Open(Dir.Path, new EventLogOptions
        {
            RetentionInterval = null,
            BeforeSegmentDeleted = (deletion, _) =>
            {
                Assert.True(File.Exists(deletion.LogFilePath), "the hook runs before the files go");
                hooked.Add(deletion);
                return ValueTask.CompletedTask;
            },
        });
        log.CreateTopic("t", new TopicOptions { SegmentBytes = 1 << 20, Retention = new RetentionOptions { MaxBytes = 2L << 20 } });
        await Fill(log, "t", 300); // ~6 MiB in 1 MiB segments

        var report = await log.ApplyRetentionAsync();

        Assert.True(report.SegmentsDeleted >= 3);
        Assert.Equal(report.SegmentsDeleted, hooked.Count);
        for (var i = 1; i < hooked.Count; i++)
        {
            Assert.Equal(hooked[i - 1].NextOffset, hooked[i].BaseOffset);
        }

        var remaining = Directory.GetFiles(Path.Combine(Dir.Path, "t", "0"), "*.log").Sum(f => new FileInfo(f).Length);
        Assert.True(remaining <= 2L << 20, $"{remaining} bytes remain");
        var bounds = log.GetBounds("t", 0);
        Assert.Equal(hooked[^1].NextOffset, bounds.StartOffset);
        Assert.Throws<OffsetOutOfRangeException>(() => log.Read("t", 0, 0));
        Assert.Equal(300 - bounds.StartOffset, Rec.ReadAll(log, "t", 0, bounds.StartOffset).Count);
    }

    [Fact]
    public async Task Retention_by_age_keeps_the_active_segment_and_what_is_younger_than_the_limit()
    {
        var clock = new ManualClock(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null, TimeProvider = clock });
        log.CreateTopic("t", new TopicOptions { SegmentBytes = 1 << 20, Retention = new RetentionOptions { MaxAge = TimeSpan.FromDays(7) } });
        await Fill(log, "t", 120); // old: ~2.4 MiB
        clock.Advance(TimeSpan.FromDays(6));
        await Fill(log, "t", 60); // younger
        Assert.Equal(0, (await log.ApplyRetentionAsync()).SegmentsDeleted);

        clock.Advance(TimeSpan.FromDays(2));
        var report = await log.ApplyRetentionAsync();

        Assert.True(report.SegmentsDeleted >= 1);
        var start = log.GetBounds("t", 0).StartOffset;
        Assert.True(start <= 120, $"start {start} deleted younger records");
        Assert.Equal(180 - start, Rec.ReadAll(log, "t", 0, start).Count);

        clock.Advance(TimeSpan.FromDays(30));
        await log.ApplyRetentionAsync();
        Assert.Single(Directory.GetFiles(Path.Combine(Dir.Path, "t", "0"), "*.log")); // the active segment stays
    }

    [Fact]
    public async Task A_failing_hook_keeps_the_segment_and_reports_the_failure()
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions
        {
            RetentionInterval = null,
            BeforeSegmentDeleted = (_, _) => throw new IOException("archive unavailable"),
        });
        log.CreateTopic("t", new TopicOptions { SegmentBytes = 1 << 20, Retention = new RetentionOptions { MaxBytes = 1 } });
        await Fill(log, "t", 100);
        var before = Directory.GetFiles(Path.Combine(Dir.Path, "t", "0"), "*.log").Length;

        await Assert.ThrowsAsync<IOException>(async () => await log.ApplyRetentionAsync());

        Assert.Equal(before, Directory.GetFiles(Path.Combine(Dir.Path, "t", "0"), "*.log").Length);
        Assert.Equal(0, log.GetBounds("t", 0).StartOffset);
    }

    [Fact]
    public async Task Reopening_after_retention_starts_at_the_oldest_remaining_segment()
    {
        using (var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null }))
        {
            log.CreateTopic("t", new TopicOptions { SegmentBytes = 1 << 20, Retention = new RetentionOptions { MaxBytes = 1 } });
            await Fill(log, "t", 150);
            await log.ApplyRetentionAsync();
        }

        using var reopened = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        var bounds = reopened.GetBounds("t", 0);
        Assert.True(bounds.StartOffset > 0);
        Assert.Equal(150, bounds.NextOffset);
        Assert.Equal(150 - bounds.StartOffset, Rec.ReadAll(reopened, "t", 0, bounds.StartOffset).Count);
    }
}
