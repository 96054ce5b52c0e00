using System.Buffers.Binary;
using Halfhour.Log.Commit;
using Halfhour.Log.Records;
using Halfhour.Log.Recovery;
using Halfhour.Log.Tests.Support;
using Halfhour.Log.Topics;

namespace Halfhour.Log.Tests.Recovery;

/// <summary>
/// The commit journal after a power loss: segments are fsynced only at checkpoints, so the images here are
/// what a disk can hold when the machine stops — the journal synced, segment writes since the last checkpoint
/// missing, zeroed or partly written — and every acknowledged record must come back, once, at its offset.
/// </summary>
public class CommitJournalTests : InTempDirectory
{
    private static readonly TopicOptions Small = new() { Partitions = 2, SegmentBytes = 8 << 20, IndexIntervalBytes = 4096 };

    private static EventLogOptions Options(long journalBytes = 64L << 20) => new() { RetentionInterval = null, JournalBytes = journalBytes };

    private string Image => Path.Combine(Dir.Path, "image");

    private string Live => Path.Combine(Dir.Path, "live");

    /// <summary>Every record of every partition of topics t (2 partitions) and u (1), as (topic, partition, offset, value).</summary>
    private static List<(string, int, long, string)> ReadEverything(EventLog log)
    {
        var all = new List<(string, int, long, string)>();
        foreach (var (topic, partitions) in new[] { ("t", 2), ("u", 1) })
        {
            for (var p = 0; p < partitions; p++)
            {
                all.AddRange(Rec.ReadAll(log, topic, p).Select(r => (topic, p, r.Offset, r.Value)));
            }
        }

        return all;
    }

    /// <summary>Appends <paramref name="groups"/> multi-partition groups (t/0, t/1, u/0 each), returning what was acknowledged.</summary>
    private static async Task<List<(string, int, long, string)>> AppendGroups(EventLog log, string tag, int groups, int valueBytes = 300)
    {
        var acknowledged = new List<(string, int, long, string)>();
        for (var g = 0; g < groups; g++)
        {
            var requests = new List<AppendRequest>();
            foreach (var (topic, partition) in new[] { ("t", 0), ("t", 1), ("u", 0), ("t", 0) })
            {
                requests.Add(new AppendRequest(topic, partition, Rec.Text($"{tag}-{g}-{topic}{partition}-{requests.Count}-" + new string('x', valueBytes))));
            }

            var offsets = await log.AppendAsync(requests);
            for (var i = 0; i < requests.Count; i++)
            {
                acknowledged.Add((requests[i].Topic, requests[i].Partition, offsets[i], Rec.Text(requests[i].Record.Value)));
            }
        }

        return acknowledged;
    }

    /// <summary>
    /// A log with groups written before a clean close (checkpointed), then more groups acknowledged through the
    /// journal; returns both sets and the segment lengths at the checkpoint. The log stays open: the caller
    /// takes its crash image and closes it.
    /// </summary>
    private async Task<(EventLog Log, List<(string, int, long, string)> Before, List<(string, int, long, string)> After, Dictionary<string, long> CheckpointLengths)> WriteAcrossACheckpoint(int groupsAfter = 30, long journalBytes = 64L << 20, TopicOptions? options = null)
    {
        options ??= Small;
        List<(string, int, long, string)> before;
        using (var first = EventLog.Open(Live, Options(journalBytes)))
        {
            first.CreateTopic("t", options);
            first.CreateTopic("u", options with { Partitions = 1 });
            before = await AppendGroups(first, "before", 20);
        }

        var lengths = SegmentFiles(Live).ToDictionary(f => Path.GetRelativePath(Live, f), f => new FileInfo(f).Length);
        var log = EventLog.Open(Live, Options(journalBytes));
        var after = await AppendGroups(log, "after", groupsAfter);
        return (log, before, after, lengths);
    }

    private static IEnumerable<string> SegmentFiles(string directory) => Directory.EnumerateFiles(directory, "*.log", SearchOption.AllDirectories);

    /// <summary>Copies the live directory as the disk would hold it (the process lock is not data).</summary>
    private void TakeImage()
    {
        foreach (var file in Directory.EnumerateFiles(Live, "*", SearchOption.AllDirectories))
        {
            if (Path.GetFileName(file) == ".lock")
            {
                continue;
            }

            var target = Path.Combine(Image, Path.GetRelativePath(Live, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>Applies <paramref name="damage"/> to each image segment file that grew after the checkpoint (its checkpointed length given).</summary>
    private void DamageWhatGrew(Dictionary<string, long> checkpointLengths, Action<string, long> damage)
    {
        foreach (var (relative, length) in checkpointLengths)
        {
            var path = Path.Combine(Image, relative);
            if (new FileInfo(path).Length > length)
            {
                damage(path, length);
            }
        }
    }

    /// <summary>Cuts a segment file back to its checkpointed length: none of its writes since reached the disk.</summary>
    private static void Truncate(string path, long length)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.SetLength(length);
    }

    private static void Zero(string path, long from, long count)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.Position = from;
        stream.Write(new byte[count]);
    }

    /// <summary>The byte positions where the journal's records start, from its first block on, for the cycle in its header.</summary>
    private static List<long> RecordStarts(string journal)
    {
        var bytes = File.ReadAllBytes(journal);
        var cycle = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8));
        var starts = new List<long>();
        long at = CommitJournal.HeaderBytes;
        while (at + 32 <= bytes.Length && BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)at)) == 0x524A4848 && BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan((int)at + 16)) == cycle)
        {
            starts.Add(at);
            at += BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)at + 4));
        }

        return starts;
    }

    [Fact]
    public async Task Segment_writes_lost_after_the_checkpoint_come_back_from_the_journal_at_their_offsets()
    {
        var (log, before, after, lengths) = await WriteAcrossACheckpoint();
        TakeImage();
        log.Dispose();
        DamageWhatGrew(lengths, Truncate);

        using var recovered = EventLog.Open(Image, Options());
        Assert.Equal(before.Concat(after).Order().ToList(), ReadEverything(recovered).Order().ToList());
        Assert.Equal(after.Where(r => r.Item1 == "t" && r.Item2 == 0).Max(r => r.Item3) + 1, recovered.GetBounds("t", 0).NextOffset);
    }

    [Fact]
    public async Task A_segment_whose_later_pages_reached_the_disk_before_earlier_ones_is_repaired_only_because_the_journal_holds_it()
    {
        var (log, before, after, lengths) = await WriteAcrossACheckpoint();
        TakeImage();
        log.Dispose();

        // The first batch written after the checkpoint is zeros on disk; the batches after it are whole.
        DamageWhatGrew(lengths, (path, length) => Zero(path, length, 200));
        var journal = Path.Combine(Image, CommitJournal.FileName);

        using (var recovered = EventLog.Open(Image, Options()))
        {
            var expected = before.Concat(after).Order().ToList();
            Assert.Equal(expected, ReadEverything(recovered).Order().ToList());
        }

        // The same disk without its journal is damage: refused at open or on read, never served or silently cut.
        DamageWhatGrew(lengths, (path, length) => Zero(path, length, 200));
        File.Delete(journal);
        var error = Record.Exception(() =>
        {
            using var damaged = EventLog.Open(Image, Options());
            ReadEverything(damaged);
        });
        Assert.IsType<LogCorruptionException>(error);
    }

    [Fact]
    public async Task A_torn_last_journal_record_is_not_replayed_and_every_record_before_it_is()
    {
        var (log, before, after, lengths) = await WriteAcrossACheckpoint(groupsAfter: 10);
        TakeImage();
        log.Dispose();
        DamageWhatGrew(lengths, Truncate);

        // Tear the last record (the last group appended): its sync never completed, so it was never acknowledged.
        var journal = Path.Combine(Image, CommitJournal.FileName);
        var starts = RecordStarts(journal);
        Assert.Equal(10, starts.Count);
        Zero(journal, starts[^1] + 40, 64);

        using var recovered = EventLog.Open(Image, Options());
        var lastGroup = after.TakeLast(4).ToList();
        var expected = before.Concat(after.SkipLast(4)).Order().ToList();
        Assert.Equal(expected, ReadEverything(recovered).Order().ToList());
        Assert.All(lastGroup, r => Assert.True(r.Item3 >= recovered.GetBounds(r.Item1, r.Item2).NextOffset));
    }

    [Fact]
    public async Task Damage_older_than_the_journal_cycle_is_still_reported_after_many_checkpoints()
    {
        // A 1 MiB journal fills every few hundred groups: several cycles, each starting after a checkpoint. No
        // index entry in the segment, so recovery scans it from its start.
        var (log, before, after, lengths) = await WriteAcrossACheckpoint(groupsAfter: 1500, journalBytes: CommitJournal.MinimumBytes, Small with { IndexIntervalBytes = 16 << 20 });
        TakeImage();
        log.Dispose();
        using (var intact = EventLog.Open(Image, Options(CommitJournal.MinimumBytes)))
        {
            Assert.Equal(before.Concat(after).Order().ToList(), ReadEverything(intact).Order().ToList());
        }

        // A byte flipped in a batch checkpointed long ago, with valid batches after it: damage, not a torn write.
        var segment = Path.Combine(Image, "t", "0", "00000000000000000000.log");
        var bytes = await File.ReadAllBytesAsync(segment);
        bytes[500] ^= 0x10;
        await File.WriteAllBytesAsync(segment, bytes);
        var error = Assert.Throws<LogCorruptionException>(() => EventLog.Open(Image, Options(CommitJournal.MinimumBytes)));
        Assert.Equal(segment, error.FilePath);
    }

    [Fact]
    public async Task A_group_larger_than_the_journal_is_made_durable_by_fsyncing_its_files()
    {
        using (var log = EventLog.Open(Live, Options(CommitJournal.MinimumBytes)))
        {
            log.CreateTopic("t", Small);
            log.CreateTopic("u", Small with { Partitions = 1 });
            var big = Enumerable.Range(0, 12).Select(i => Rec.Text($"big-{i}-" + new string('y', 200_000))).ToArray();
            var syncsBefore = log.CommitMetrics.Fsyncs;
            await log.AppendAsync("t", 1, big);
            Assert.True(log.CommitMetrics.Fsyncs > syncsBefore);
            Assert.Empty(RecordStarts(Path.Combine(Live, CommitJournal.FileName))); // not journaled: its files were fsynced
            Assert.Equal(12, Rec.ReadAll(log, "t", 1).Count);
            var small = await AppendGroups(log, "small", 3);
            TakeImage();
            Assert.Equal(12 + small.Count, ReadEverything(log).Count);
        }

        using var recovered = EventLog.Open(Image, Options(CommitJournal.MinimumBytes));
        Assert.Equal(12, Rec.ReadAll(recovered, "t", 1).Count(r => r.Value.StartsWith("big-", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Each_group_commit_costs_one_sync_however_many_partitions_it_touches()
    {
        using var log = EventLog.Open(Live, Options());
        log.CreateTopic("t", Small);
        log.CreateTopic("u", Small with { Partitions = 1 });
        var commits = log.CommitMetrics.Commits;
        var syncs = log.CommitMetrics.Fsyncs;
        await AppendGroups(log, "g", 5);
        Assert.Equal(5, log.CommitMetrics.Commits - commits);
        Assert.Equal(5, log.CommitMetrics.Fsyncs - syncs);

        using var plain = EventLog.Open(Path.Combine(Dir.Path, "plain"), Options(journalBytes: 0));
        plain.CreateTopic("t", Small);
        plain.CreateTopic("u", Small with { Partitions = 1 });
        await AppendGroups(plain, "g", 5);
        Assert.Equal(15, plain.CommitMetrics.Fsyncs);
    }

    [Fact]
    public async Task Opening_without_a_journal_still_replays_the_one_a_crash_left_and_then_removes_it()
    {
        var (log, before, after, lengths) = await WriteAcrossACheckpoint(groupsAfter: 8);
        TakeImage();
        log.Dispose();
        DamageWhatGrew(lengths, Truncate);

        using var recovered = EventLog.Open(Image, Options(journalBytes: 0));
        Assert.Equal(before.Concat(after).Order().ToList(), ReadEverything(recovered).Order().ToList());
        Assert.False(File.Exists(Path.Combine(Image, CommitJournal.FileName)));
    }

    [Fact]
    public void A_journal_smaller_than_the_minimum_is_refused_with_the_option_named()
    {
        var error = Assert.Throws<ArgumentException>(() => EventLog.Open(Live, Options(journalBytes: 4096)));
        Assert.Contains("JournalBytes", error.Message, StringComparison.Ordinal);
        using var log = EventLog.Open(Live, Options()); // the refused open left the directory usable
    }
}
