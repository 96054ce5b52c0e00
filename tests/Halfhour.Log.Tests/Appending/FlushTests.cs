using Halfhour.Log.Records;

namespace Halfhour.Log.Tests.Appending;

public class FlushTests
{
    [Theory]
    [InlineData(Durability.Fsync)]
    [InlineData(Durability.OsCache)]
    public async Task Flush_completes_after_appends_and_leaves_every_record_readable(Durability durability)
    {
        var directory = Path.Combine(Path.GetTempPath(), "halfhour-flush-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var log = EventLog.Open(directory, EventLogOptions.Default with { Durability = durability }))
            {
                log.CreateTopic("t", new Topics.TopicOptions { Partitions = 2 });
                await log.AppendAsync([new AppendRequest("t", 0, new AppendRecord("a"u8.ToArray())), new AppendRequest("t", 1, new AppendRecord("b"u8.ToArray()))]);
                await log.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }

            using var reopened = EventLog.Open(directory);
            using var read = reopened.Read("t", 1, 0);
            Assert.Equal(1, read.Count);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Flush_on_a_closed_log_is_refused()
    {
        var directory = Path.Combine(Path.GetTempPath(), "halfhour-flush-" + Guid.NewGuid().ToString("N"));
        var log = EventLog.Open(directory);
        log.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await log.FlushAsync());
        Directory.Delete(directory, recursive: true);
    }
}
