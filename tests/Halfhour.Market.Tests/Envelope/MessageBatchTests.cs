using System.Text;
using Halfhour.Market.Envelope;

namespace Halfhour.Market.Tests.Envelope;

public class MessageBatchTests
{
    private static List<string>? Split(string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var ranges = new List<Range>();
        return MessageBatch.TrySplit(bytes, ranges) ? ranges.Select(r => Encoding.UTF8.GetString(bytes.AsSpan()[r])).ToList() : null;
    }

    [Fact]
    public void A_DIP_array_splits_into_its_messages_byte_for_byte()
    {
        Assert.Equal(["{\"payload\":{\"a\":[1, 2]}}", "{\"payload\":{}}", "\"odd\""], Split(" [ {\"payload\":{\"a\":[1, 2]}} , {\"payload\":{}},\"odd\" ] "));
    }

    [Fact]
    public void A_single_message_object_is_a_batch_of_one()
    {
        Assert.Equal(["{\"payload\":{}}"], Split("{\"payload\":{}}"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("[{\"payload\":{}}")]
    [InlineData("[] []")]
    [InlineData("42")]
    public void A_body_that_is_not_an_array_or_object_of_JSON_is_unreadable(string body)
    {
        Assert.Null(Split(body));
    }
}
