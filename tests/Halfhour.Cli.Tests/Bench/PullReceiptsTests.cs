using System.Text;
using System.Text.Json;
using Halfhour.Cli.Bench;

namespace Halfhour.Cli.Tests.Bench;

public class PullReceiptsTests
{
    /// <summary>An answer in the backbone's shape: each fetched message opens with its receipt, and the messages are large.</summary>
    private static (byte[] Answer, string[] Receipts) Answer(int messages)
    {
        var receipts = Enumerable.Range(0, messages).Select(i => $"r-{i:D6}-{Guid.NewGuid():N}").ToArray();
        var bulk = new string('x', 3_000);
        var items = receipts.Select((r, i) =>
            $$$"""{"receipt":"{{{r}}}","transactionID":"t-{{{i}}}","deliveryCount":1,"message":{"payload":{"CommonBlock":{"S0":{"interfaceID":"IF-021"}},"CustomBlock":{"note":"{{{bulk}}}\"receipt\":\"not-one"}""" + "}}}");
        return (Encoding.UTF8.GetBytes($$"""{"messages":[{{string.Join(',', items)}}]}"""), receipts);
    }

    private static string[] Acknowledged(PullReceipts receipts)
    {
        using var json = JsonDocument.Parse(receipts.Acknowledgement);
        return [.. json.RootElement.GetProperty("receipts").EnumerateArray().Select(r => r.GetString()!)];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(11)]
    [InlineData(4096)]
    [InlineData(100_000)]
    public async Task Every_receipt_is_acknowledged_once_in_order_however_the_answer_is_cut_into_pieces(int piece)
    {
        var (answer, expected) = Answer(40);
        var receipts = new PullReceipts();

        await receipts.ReadAsync(new PieceStream(answer, piece), CancellationToken.None);

        Assert.Equal(expected.Length, receipts.Count);
        Assert.Equal(expected, Acknowledged(receipts));
    }

    [Fact]
    public async Task An_empty_answer_gives_no_receipts_and_a_reused_scanner_forgets_the_previous_answer()
    {
        var receipts = new PullReceipts();
        var (answer, _) = Answer(3);
        await receipts.ReadAsync(new MemoryStream(answer), CancellationToken.None);

        await receipts.ReadAsync(new MemoryStream("""{"messages":[]}"""u8.ToArray()), CancellationToken.None);

        Assert.Equal(0, receipts.Count);
        Assert.Empty(Acknowledged(receipts));
    }

    /// <summary>A stream that hands out at most <paramref name="piece"/> bytes per read, as a network stream may.</summary>
    private sealed class PieceStream(byte[] bytes, int piece) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, piece)], cancellationToken);
    }
}
