using Halfhour.Log.Cursors;
using Halfhour.Log.Recovery;
using Halfhour.Log.Tests.Support;

namespace Halfhour.Log.Tests.Cursors;

public class CursorStoreTests : InTempDirectory
{
    private string JournalPath => Path.Combine(Dir.Path, "cursors.journal");

    [Fact]
    public async Task Committed_positions_survive_reopening()
    {
        using (var store = CursorStore.Open(JournalPath))
        {
            await store.CommitAsync("supplier-1", "IF-021", 3, 42);
            await store.CommitAsync("supplier-1", "IF-021", 3, 43);
            await store.CommitAsync("lss", "IF-021", 0, 7);
        }

        using var reopened = CursorStore.Open(JournalPath);
        Assert.Equal(43, reopened.Get("supplier-1", "IF-021", 3));
        Assert.Equal(7, reopened.Get("lss", "IF-021", 0));
        Assert.Null(reopened.Get("lss", "IF-021", 1));
        Assert.Single(reopened.GetAll("supplier-1"));
    }

    [Fact]
    public async Task Concurrent_commits_each_complete_durably_and_in_each_callers_order()
    {
        using (var store = CursorStore.Open(JournalPath))
        {
            // 64 callers at once, each committing its own position five times in a row: their commits share
            // writes, yet each caller's later offset must win and no commit may be lost.
            await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(async () =>
            {
                for (var offset = 1; offset <= 5; offset++)
                {
                    await store.CommitAsync([new CursorPosition($"s{i}", "t", i % 3, offset), new CursorPosition("shared", "t", i, offset)]);
                    Assert.Equal(offset, store.Get($"s{i}", "t", i % 3));
                }
            })));
        }

        using var reopened = CursorStore.Open(JournalPath);
        for (var i = 0; i < 64; i++)
        {
            Assert.Equal(5, reopened.Get($"s{i}", "t", i % 3));
            Assert.Equal(5, reopened.Get("shared", "t", i));
        }
    }

    [Fact]
    public async Task A_commit_after_close_is_refused()
    {
        var store = CursorStore.Open(JournalPath);
        await store.CommitAsync("s", "t", 0, 1);
        store.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.CommitAsync("s", "t", 0, 2));
        using var reopened = CursorStore.Open(JournalPath);
        Assert.Equal(1, reopened.Get("s", "t", 0));
    }

    [Fact]
    public async Task A_multi_position_commit_is_all_or_nothing_after_a_torn_write()
    {
        using (var store = CursorStore.Open(JournalPath))
        {
            await store.CommitAsync([new CursorPosition("s", "t", 0, 1), new CursorPosition("s", "t", 1, 1)]);
            await store.CommitAsync([new CursorPosition("s", "t", 0, 2), new CursorPosition("s", "t", 1, 2)]);
        }

        var bytes = await File.ReadAllBytesAsync(JournalPath);
        for (var cut = bytes.Length / 2 + 1; cut < bytes.Length; cut++)
        {
            await File.WriteAllBytesAsync(JournalPath, bytes.AsMemory(0, cut));
            using var store = CursorStore.Open(JournalPath);
            Assert.Equal(1, store.Get("s", "t", 0));
            Assert.Equal(1, store.Get("s", "t", 1));
            await store.CommitAsync("s", "t", 0, 9);
        }
    }

    [Fact]
    public async Task Damage_before_the_last_entry_is_reported_not_skipped()
    {
        using (var store = CursorStore.Open(JournalPath))
        {
            for (var i = 0; i < 10; i++)
            {
                await store.CommitAsync("s", "t", 0, i);
            }
        }

        var bytes = await File.ReadAllBytesAsync(JournalPath);
        bytes[20] ^= 0x40;
        await File.WriteAllBytesAsync(JournalPath, bytes);
        var e = Assert.Throws<LogCorruptionException>(() => CursorStore.Open(JournalPath));
        Assert.Equal(0, e.Position);
    }

    [Fact]
    public async Task Compaction_keeps_the_journal_small_and_every_latest_position()
    {
        using (var store = CursorStore.Open(JournalPath))
        {
            // 600 commits of 100 positions: ~3 MB of journal, past the 1 MiB compaction floor.
            for (var i = 0; i < 600; i++)
            {
                var positions = new List<CursorPosition>();
                for (var k = 0; k < 100; k++)
                {
                    positions.Add(new CursorPosition($"sub-{k % 10}", "IF-021", k % 4, (i * 100) + k));
                }

                await store.CommitAsync(positions);
            }

            await store.DeleteAsync("sub-9");
        }

        Assert.True(new FileInfo(JournalPath).Length < 2 << 20, $"journal is {new FileInfo(JournalPath).Length} bytes");
        using var reopened = CursorStore.Open(JournalPath);
        Assert.Equal(59_998, reopened.Get("sub-8", "IF-021", 2));
        Assert.Empty(reopened.GetAll("sub-9"));
    }

    [Fact]
    public async Task The_log_keeps_its_cursors_beside_its_topics()
    {
        using (var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null }))
        {
            await log.Cursors.CommitAsync("mds", "IF-021", 0, 5);
        }

        using var reopened = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        Assert.Equal(5, reopened.Cursors.Get("mds", "IF-021", 0));
    }
}
