using System.Buffers.Binary;
using Halfhour.Log.Recovery;
using Halfhour.Log.Tests.Support;
using Halfhour.Log.Topics;

namespace Halfhour.Log.Tests.Recovery;

public class CorruptionTests : InTempDirectory
{
    private static readonly TopicOptions Small = new() { SegmentBytes = 1 << 20, IndexIntervalBytes = 4096 };

    private string PartitionDir => Path.Combine(Dir.Path, "t", "0");

    private string LastSegment => Directory.GetFiles(PartitionDir, "*.log").Max()!;

    /// <summary>Writes batches of 3 records; returns the byte position and first offset of the last batch in the last segment.</summary>
    private async Task<(long Position, long FirstOffset, int Records)> WriteLog(int batches, int valueBytes)
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        log.CreateTopic("t", Small);
        long position = 0, first = 0;
        for (var i = 0; i < batches; i++)
        {
            position = new FileInfo(LastSegment).Length;
            var result = await log.AppendAsync("t", 0, [Rec.Text($"{i}a" + new string('x', valueBytes)), Rec.Text($"{i}b"), Rec.Text($"{i}c")]);
            first = result.FirstOffset;
            if (new FileInfo(LastSegment).Length < position)
            {
                position = 0;
            }
        }

        return (position, first, batches * 3);
    }

    [Fact]
    public async Task Recovery_truncates_the_last_batch_cut_at_any_byte_and_keeps_every_earlier_record()
    {
        var (lastBatch, lastFirst, records) = await WriteLog(batches: 20, valueBytes: 200);
        var pristine = await File.ReadAllBytesAsync(LastSegment);
        var segment = LastSegment;
        for (var cut = lastBatch; cut < pristine.Length; cut++)
        {
            await File.WriteAllBytesAsync(segment, pristine.AsMemory(0, (int)cut));
            using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
            var all = Rec.ReadAll(log, "t", 0);
            Assert.Equal(records - 3, all.Count);
            Assert.Equal(lastFirst, log.GetBounds("t", 0).NextOffset);
            Assert.Equal(lastBatch, new FileInfo(segment).Length);
            Assert.Equal(lastFirst, await log.AppendAsync("t", 0, Rec.Text("again")));
            log.Dispose();
            await File.WriteAllBytesAsync(segment, pristine);
        }
    }

    [Fact]
    public async Task Bit_flips_in_the_last_batch_are_truncated_as_a_torn_tail_never_served()
    {
        var (lastBatch, lastFirst, records) = await WriteLog(batches: 20, valueBytes: 200);
        var pristine = await File.ReadAllBytesAsync(LastSegment);
        var segment = LastSegment;
        var random = new Random(7);
        for (var i = 0; i < 60; i++)
        {
            var damaged = (byte[])pristine.Clone();
            var at = random.Next((int)lastBatch, damaged.Length);
            damaged[at] ^= (byte)(1 << random.Next(8));
            await File.WriteAllBytesAsync(segment, damaged);
            using (var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null }))
            {
                var all = Rec.ReadAll(log, "t", 0);
                Assert.Equal(records - 3, all.Count);
                Assert.DoesNotContain(all, r => r.Offset >= lastFirst);
            }

            await File.WriteAllBytesAsync(segment, pristine);
        }
    }

    [Fact]
    public async Task Bit_flips_in_the_middle_of_the_log_are_reported_as_corruption_and_never_returned()
    {
        await WriteLog(batches: 400, valueBytes: 5000);
        var files = Directory.GetFiles(PartitionDir, "*.log").Order(StringComparer.Ordinal).ToArray();
        Assert.True(files.Length >= 2, "the log should span several segments");
        var random = new Random(11);
        for (var i = 0; i < 40; i++)
        {
            var file = files[random.Next(files.Length)];
            var pristine = await File.ReadAllBytesAsync(file);
            var damaged = (byte[])pristine.Clone();
            // Somewhere before the last 20 KB of the file: valid batches follow the damage.
            var at = random.Next(0, damaged.Length - 20_000);
            damaged[at] ^= (byte)(1 << random.Next(8));
            await File.WriteAllBytesAsync(file, damaged);

            var returned = new List<(long Offset, string Value)>();
            var reported = false;
            try
            {
                using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
                var next = 0L;
                while (true)
                {
                    using var result = log.Read("t", 0, next, 4096);
                    if (result.IsEmpty)
                    {
                        break;
                    }

                    foreach (var r in result)
                    {
                        returned.Add((r.Offset, Rec.Text(r.Value)));
                    }

                    next = result.NextOffset;
                }
            }
            catch (LogCorruptionException e)
            {
                reported = true;
                Assert.Equal(file, e.FilePath);
                Assert.True(e.Position <= at, $"reported at {e.Position}, damage at {at}");
            }

            Assert.True(reported, $"a flip at byte {at} of {Path.GetFileName(file)} went unnoticed");
            for (var k = 0; k < returned.Count; k++)
            {
                Assert.Equal(k, returned[k].Offset);
                Assert.StartsWith($"{k / 3}{(char)('a' + (k % 3))}", returned[k].Value, StringComparison.Ordinal);
            }

            await File.WriteAllBytesAsync(file, pristine);
        }
    }

    [Fact]
    public async Task Damage_followed_by_valid_batches_in_the_tail_fails_open_with_the_file_and_position()
    {
        var (lastBatch, _, _) = await WriteLog(batches: 20, valueBytes: 200);
        var segment = LastSegment;
        var bytes = await File.ReadAllBytesAsync(segment);
        // The batch before the last: past the last index entry (written every 4 KiB), with a valid batch after it.
        var previous = lastBatch - 1;
        while (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)previous)) != 0x31424848)
        {
            previous--;
        }

        bytes[previous + 100] ^= 0x10;
        await File.WriteAllBytesAsync(segment, bytes);
        var e = Assert.Throws<LogCorruptionException>(() => EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null }));
        Assert.Equal(segment, e.FilePath);
        Assert.Equal(previous, e.Position);
    }

    [Fact]
    public async Task Open_reads_only_the_tail_past_the_last_index_entry_and_reading_finds_older_damage()
    {
        await WriteLog(batches: 150, valueBytes: 2000);
        var first = Directory.GetFiles(PartitionDir, "*.log").Min()!;
        var bytes = await File.ReadAllBytesAsync(first);
        bytes[1000] ^= 0x01;
        await File.WriteAllBytesAsync(first, bytes);

        // Open does not scan there (that is what keeps it fast), so it succeeds...
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        Assert.Equal(450, log.GetBounds("t", 0).NextOffset);

        // ...and the damage is reported the moment a read reaches it, with nothing from the batch served.
        var e = Assert.Throws<LogCorruptionException>(() => log.Read("t", 0, 0));
        Assert.Equal(first, e.FilePath);
        Assert.Equal(0, e.Position);
    }

    [Fact]
    public async Task A_damaged_sealed_segment_whose_index_must_be_rebuilt_is_reported_and_never_truncated()
    {
        await WriteLog(batches: 400, valueBytes: 5000);
        var first = Directory.GetFiles(PartitionDir, "*.log").Min()!;
        File.Delete(Path.ChangeExtension(first, ".idx"));
        File.Delete(Path.ChangeExtension(first, ".tix"));
        var bytes = await File.ReadAllBytesAsync(first);
        bytes[^10] ^= 0x01;
        await File.WriteAllBytesAsync(first, bytes);

        var e = Assert.Throws<LogCorruptionException>(() => EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null }));
        Assert.Equal(first, e.FilePath);
        Assert.Equal(bytes.Length, new FileInfo(first).Length);
    }

    [Fact]
    public async Task Missing_indexes_are_rebuilt_and_reads_find_every_offset()
    {
        var (_, _, records) = await WriteLog(batches: 300, valueBytes: 5000);
        foreach (var index in Directory.GetFiles(PartitionDir, "*.idx").Concat(Directory.GetFiles(PartitionDir, "*.tix")))
        {
            File.Delete(index);
        }

        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        Assert.Equal(records, Rec.ReadAll(log, "t", 0).Count);
        using var middle = log.Read("t", 0, records / 2, 1);
        Assert.Equal(records / 2, middle.First().Offset);
        Assert.All(Directory.GetFiles(PartitionDir, "*.idx"), f => Assert.True(new FileInfo(f).Length > 0));
    }

    [Fact]
    public async Task An_index_left_behind_is_extended_from_its_last_good_entry()
    {
        var (_, _, records) = await WriteLog(batches: 60, valueBytes: 1000);
        var index = Directory.GetFiles(PartitionDir, "*.idx").Max()!;
        var length = new FileInfo(index).Length;
        Assert.True(length >= 32);
        using (var stream = File.OpenWrite(index))
        {
            stream.SetLength(length / 2 + 3); // behind, with a partial entry
        }

        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        Assert.Equal(length, new FileInfo(index).Length);
        Assert.Equal(records, Rec.ReadAll(log, "t", 0).Count);
    }
}

internal static class ReadResultExtensions
{
    public static Halfhour.Log.Records.LogRecord First(this Halfhour.Log.Records.LogReadResult result)
    {
        foreach (var r in result)
        {
            return r;
        }

        throw new InvalidOperationException("empty");
    }
}
