using Halfhour.Log.Indexes;
using Halfhour.Log.Tests.Support;

namespace Halfhour.Log.Tests.Indexes;

public class SparseIndexTests : InTempDirectory
{
    [Fact]
    public void The_offset_index_finds_the_last_entry_at_or_before_an_offset()
    {
        using var index = new OffsetIndex(Path.Combine(Dir.Path, "x.idx"), baseOffset: 1000);
        index.Append(1010, 4096);
        index.Append(1025, 8192);
        index.Append(1040, 12288);

        Assert.Equal(0, index.FindPosition(1005));
        Assert.Equal(4096, index.FindPosition(1010));
        Assert.Equal(4096, index.FindPosition(1024));
        Assert.Equal(12288, index.FindPosition(5000));
    }

    [Fact]
    public void The_time_index_finds_the_last_entry_strictly_before_a_time()
    {
        using var index = new TimeIndex(Path.Combine(Dir.Path, "x.tix"), baseOffset: 0);
        index.Append(100, 10, 4096);
        index.Append(200, 20, 8192);

        Assert.Equal(0, index.FindPositionBefore(100));
        Assert.Equal(4096, index.FindPositionBefore(101));
        Assert.Equal(8192, index.FindPositionBefore(long.MaxValue));
    }

    [Fact]
    public void A_partial_last_entry_is_dropped_on_open_and_entries_past_a_position_can_be_cut()
    {
        var path = Path.Combine(Dir.Path, "x.idx");
        using (var index = new OffsetIndex(path, 0))
        {
            index.Append(1, 100);
            index.Append(2, 200);
            index.Append(3, 300);
        }

        using (var stream = File.OpenWrite(path))
        {
            stream.SetLength(8 * 3 - 2);
        }

        using var reopened = new OffsetIndex(path, 0);
        Assert.Equal(2, reopened.Count);
        reopened.File.TruncateAtPosition(200);
        Assert.Equal(1, reopened.Count);
        Assert.Equal((1L, 100L), reopened.EntryAt(0));
    }
}
