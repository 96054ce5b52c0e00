using System.Text;
using Halfhour.Broker.Publishing;
using Halfhour.Market.Consumption;
using Halfhour.Market.Validation;
using Halfhour.Server.Publishing;

namespace Halfhour.Server.Tests.Publishing;

/// <summary>
/// The shape check that validates each message as it meets it gives exactly the shape verdict of the check alone, error
/// for error, wherever in the body the fault is, and each message the verdict of its own bytes.
/// </summary>
public class MessageBatchTests
{
    private const int MaxMessages = 5;
    private const int MaxDepth = 32;

    private static readonly ConsumptionMessageBuilder s_builder = new(new ConsumptionMessageOptions { Seed = 7 });
    private static readonly MessageValidator s_validator = Dispatching();

    private static MessageValidator Dispatching()
    {
        var validator = new MessageValidator();
        validator.UseFor("IF-021", new ConsumptionValidator());
        return validator;
    }

    private static string Message(int number) => Encoding.UTF8.GetString(s_builder.Build(number));

    private static string Array(params string[] elements) => "[" + string.Join(",", elements) + "]";

    public static TheoryData<string, string> Bodies() => new()
    {
        { "three valid messages", Array(Message(1), Message(2), Message(3)) },
        { "a refused message among valid ones", Array(Message(1), Message(2).Replace("\"v\":\"", "\"v\":\"x", StringComparison.Ordinal), Message(3)) },
        { "malformed JSON inside the third message", Array(Message(1), Message(2), Message(3).Replace("\"v\":\"", "\"v\":x\"", StringComparison.Ordinal)) },
        { "malformed JSON after a schema failure in the same message", Array(Message(1), Message(2).Replace("{\"payload\":{", "{\"payload\":{\"extra\":1,", StringComparison.Ordinal).Replace("\"v\":\"", "\"v\":x\"", StringComparison.Ordinal)) },
        { "a message cut short", Array(Message(1), Message(2)[..500]) },
        { "depth exceeded inside a message", Array(Message(1), Message(2).Replace("\"subText\":null", "\"subText\":" + new string('[', MaxDepth) + new string(']', MaxDepth), StringComparison.Ordinal)) },
        { "depth exceeded inside an unknown field", Array(Message(1), "{\"payload\":{\"x\":" + new string('[', MaxDepth) + new string(']', MaxDepth) + "}}") },
        { "depth just within the limit inside a message", Array(Message(1), "{\"payload\":{\"x\":" + new string('[', MaxDepth - 3) + new string(']', MaxDepth - 3) + "}}") },
        { "trailing garbage after the array", Array(Message(1), Message(2)) + " x" },
        { "a second array after the first", Array(Message(1)) + " []" },
        { "too many messages", Array(Message(1), Message(2), Message(3), Message(4), Message(5), Message(6)) },
        { "too many messages, the extra one malformed", Array(Message(1), Message(2), Message(3), Message(4), Message(5), "{\"payload\":") },
        { "messages at the limit", Array(Message(1), Message(2), Message(3), Message(4), Message(5)) },
        { "an empty array", "[]" },
        { "an object", Message(1) },
        { "a number", "42" },
        { "nothing", "" },
        { "elements that are not objects", Array("42", "\"odd\"", "null", "[1,{}]", "{}") },
    };

    [Theory]
    [MemberData(nameof(Bodies))]
    public void Validating_in_the_same_pass_gives_the_shape_verdict_of_the_check_alone(string name, string text)
    {
        var body = Encoding.UTF8.GetBytes(text);
        var alone = MessageBatch.Check(body, MaxMessages, MaxDepth);

        var ranges = new List<Range>();
        var validated = new ValidatedBatch(s_validator);
        var merged = MessageBatch.Check(body, MaxMessages, MaxDepth, ranges, validated);

        Assert.True(alone == merged, $"{name}: alone {alone}, merged {merged}");
        if (merged.Error is not null)
        {
            return;
        }

        Assert.Equal(merged.Count, validated.Messages.Count);
        for (var i = 0; i < ranges.Count; i++)
        {
            var (range, facts, verdict) = validated.Messages[i];
            Assert.Equal(ranges[i], range);
            var expectedFacts = new MessageFacts();
            var expected = s_validator.Validate(body.AsSpan()[range], expectedFacts);
            Assert.True(expected == verdict, $"{name}: message {i}: merged {verdict}, from its bytes {expected}");
            Assert.Equal(expectedFacts.SenderUniqueReference, facts.SenderUniqueReference);
            Assert.Equal(expectedFacts.Mpan, facts.Mpan);
            Assert.Equal(expectedFacts.PrimaryRecipients, facts.PrimaryRecipients);
        }
    }

    [Fact]
    public void Malformed_json_in_the_third_message_is_a_batch_error_naming_where()
    {
        var body = Encoding.UTF8.GetBytes(Array(Message(1), Message(2), Message(3).Replace("\"v\":\"", "\"v\":x\"", StringComparison.Ordinal)));

        var shape = MessageBatch.Check(body, MaxMessages, MaxDepth, null, new ValidatedBatch(s_validator));

        Assert.StartsWith("The body is not well-formed JSON: 'x' is an invalid start of a value.", shape.Error, StringComparison.Ordinal);
        Assert.False(shape.TooMany);
    }

    [Fact]
    public void Too_many_messages_is_the_too_many_error_even_when_every_message_is_valid()
    {
        var body = Encoding.UTF8.GetBytes(Array(Message(1), Message(2), Message(3), Message(4), Message(5), Message(6)));

        var shape = MessageBatch.Check(body, MaxMessages, MaxDepth, null, new ValidatedBatch(s_validator));

        Assert.True(shape.TooMany);
        Assert.Equal($"The batch has more than {MaxMessages} messages; send at most {MaxMessages} per request.", shape.Error);
    }
}
