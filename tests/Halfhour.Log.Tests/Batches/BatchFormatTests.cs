using Halfhour.Log.Batches;
using Halfhour.Log.Compression;
using Halfhour.Log.Records;
using Halfhour.Log.Tests.Support;

namespace Halfhour.Log.Tests.Batches;

public class BatchFormatTests
{
    private static readonly BatchCodec Plain = new(CompressionOptions.None, null);

    [Fact]
    public void An_encoded_batch_header_carries_count_offsets_timestamps_flags_and_a_valid_checksum()
    {
        AppendRecord[] records = [Rec.Text("a", "k", ("h", "v")), Rec.Text("bb")];
        var size = RecordCodec.EncodedSize(records[0]) + RecordCodec.EncodedSize(records[1]);
        var batch = BatchEncoder.Encode(records, size, firstOffset: 41, timestamp: 1_790_000_000_000, Plain);

        Assert.True(BatchHeader.TryRead(batch.Buffer, out var header));
        Assert.Equal(batch.Length, header.Length);
        Assert.Equal(2, header.RecordCount);
        Assert.Equal(41, header.FirstOffset);
        Assert.Equal(42, header.LastOffset);
        Assert.Equal(1_790_000_000_000, header.FirstTimestamp);
        Assert.Equal(BatchFlags.None, header.Flags);
        Assert.Equal(size, header.PlainLength);
        Assert.True(BatchHeader.HasValidChecksum(batch.Buffer.AsSpan(0, batch.Length)));
    }

    [Fact]
    public void Any_changed_byte_after_the_checksum_field_fails_the_checksum()
    {
        var batch = BatchEncoder.Encode([Rec.Text("value")], RecordCodec.EncodedSize(Rec.Text("value")), 0, 0, Plain);
        for (var i = BatchHeader.ChecksummedFrom; i < batch.Length; i++)
        {
            var copy = batch.Buffer.AsSpan(0, batch.Length).ToArray();
            copy[i] ^= 0x80;
            Assert.False(BatchHeader.HasValidChecksum(copy), $"byte {i}");
        }
    }

    [Fact]
    public void Headers_that_cannot_be_true_are_rejected()
    {
        var batch = BatchEncoder.Encode([Rec.Text("v")], RecordCodec.EncodedSize(Rec.Text("v")), 5, 0, Plain);
        var bytes = batch.Buffer.AsSpan(0, batch.Length).ToArray();
        Assert.False(BatchHeader.TryRead(bytes.AsSpan(0, BatchHeader.Size - 1), out _));
        bytes[32] ^= 1; // last offset no longer first + count - 1
        Assert.False(BatchHeader.TryRead(bytes, out _));
    }

    [Fact]
    public void Record_sizes_are_measured_exactly_and_impossible_fields_are_refused()
    {
        var record = Rec.Text("value", "key", ("name", "v"), ("ünï", "x"));
        var size = RecordCodec.EncodedSize(record);
        var buffer = new byte[size];
        Assert.Equal(size, RecordCodec.Write(record, 0, 0, buffer));
        Assert.Equal(-1, RecordCodec.EncodedSize(new AppendRecord(default, default, [new RecordHeader(new string('n', 70_000), default)])));
    }
}
