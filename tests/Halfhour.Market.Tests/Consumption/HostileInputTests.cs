using System.Text;
using Halfhour.Market.Consumption;
using Halfhour.Market.Validation;
using static Halfhour.Market.Tests.Consumption.ConsumptionMessages;

namespace Halfhour.Market.Tests.Consumption;

/// <summary>Whatever bytes arrive, the validator answers with a result, never an exception, and reads no further than it must.</summary>
public class HostileInputTests
{
    private static readonly ConsumptionValidator Validator = new();

    private static ValidationResult Check(string json) => Validator.Validate(Encoding.UTF8.GetBytes(json), new MessageFacts());

    [Fact]
    public void Deep_nesting_where_a_string_belongs_is_a_type_failure_read_no_deeper_than_its_first_bracket()
    {
        var deep = "{\"payload\":{\"CommonBlock\":{\"S0\":{\"interfaceID\":" + new string('[', 200_000) + new string(']', 200_000) + "}}}}";
        var result = Check(deep);
        Assert.Equal((MessageCode.SchemaFailure, "/payload/CommonBlock/S0/interfaceID", "schema:type"), (result.Code, result.Pointer, result.Rule));
    }

    [Fact]
    public void Deep_nesting_at_the_root_is_not_a_message()
    {
        Assert.Equal(MessageCode.MalformedMessage, Check(new string('[', 100_000)).Code);
        Assert.Equal(MessageCode.SchemaFailure, Check("{\"surplus\":" + new string('{', 100_000)).Code);
    }

    [Fact]
    public void A_huge_string_is_a_length_failure_and_a_huge_message_exceeds_the_limit()
    {
        var huge = Edited(m => m.Common("S1")["subText"] = new string('x', 3_000_000));
        Assert.Equal((MessageCode.SchemaFailure, "schema:maxLength"), (Validate(huge).Code, Validate(huge).Rule));

        var tooBig = Edited(m => m.Common("S1")["subText"] = new string('x', 5_000_000));
        Assert.Equal((MessageCode.LimitExceeded, "limit:message-size"), (Validate(tooBig).Code, Validate(tooBig).Rule));
    }

    [Fact]
    public void A_huge_unknown_property_name_gives_a_short_result()
    {
        var result = Check("{\"payload\":{\"" + new string('n', 1_000_000) + "\":1}}");
        Assert.Equal((MessageCode.SchemaFailure, "schema:additionalProperties"), (result.Code, result.Rule));
        Assert.InRange(result.Pointer!.Length + result.Detail!.Length, 1, 1000);
    }

    [Fact]
    public void Property_names_are_escaped_in_the_pointer()
    {
        var result = Check("{\"payload\":{\"a/b~c\":1}}");
        Assert.Equal("/payload/a~1b~0c", result.Pointer);
    }

    [Fact]
    public void Invalid_utf8_is_malformed()
    {
        var message = Edited(m => m.Common("S1")["subText"] = "PLACEHOLDER");
        var at = Encoding.UTF8.GetString(message).IndexOf("PLACEHOLDER", StringComparison.Ordinal);
        message[at] = 0xC3;
        message[at + 1] = 0x28;
        var result = Validate(message);
        Assert.Equal((MessageCode.MalformedMessage, "/payload/CommonBlock/S1/subText", "json:utf8"), (result.Code, result.Pointer, result.Rule));
    }

    [Fact]
    public void A_duplicate_key_is_rejected()
    {
        var text = Encoding.UTF8.GetString(Valid()).Replace("\"q\":\"A\"", "\"q\":\"A\",\"q\":\"A\"", StringComparison.Ordinal);
        var result = Validate(Encoding.UTF8.GetBytes(text));
        Assert.Equal((MessageCode.MalformedMessage, Periods + "/0/q", "json:duplicate-key"), (result.Code, result.Pointer, result.Rule));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("\"payload\"")]
    [InlineData("{")]
    [InlineData("{\"payload\":")]
    [InlineData("{\"payload\":{}} trailing")]
    [InlineData("{\"payload\":{}}{}")]
    [InlineData("{\"payload\":{},}")]
    [InlineData("{/*comment*/\"payload\":{}}")]
    public void Malformed_or_foreign_json_yields_a_result(string json)
    {
        var result = Check(json);
        Assert.False(result.IsValid);
        Assert.Contains(result.Code, new[] { MessageCode.MalformedMessage, MessageCode.SchemaFailure });
    }

    [Fact]
    public void Trailing_content_after_a_valid_message_is_malformed()
    {
        var text = Encoding.UTF8.GetString(Valid()) + " x";
        Assert.Equal(MessageCode.MalformedMessage, Validate(Encoding.UTF8.GetBytes(text)).Code);
        Assert.True(Validate(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(Valid()) + " \n")).IsValid);
    }

    [Fact]
    public void A_flood_of_recipients_exceeds_the_limit()
    {
        var message = Edited(m =>
        {
            var list = m.Common("A0")["primaryRecipients"]!.AsArray();
            for (var i = 0; i < 1500; i++)
            {
                list.Add("1000000001");
            }
        });
        Assert.Equal((MessageCode.LimitExceeded, "limit:recipients"), (Validate(message).Code, Validate(message).Rule));
    }

    [Fact]
    public void Random_corruption_of_valid_messages_never_throws()
    {
        var random = new Random(21);
        var facts = new MessageFacts();
        var original = Valid(3);
        for (var i = 0; i < 3000; i++)
        {
            var message = (byte[])original.Clone();
            for (var k = random.Next(1, 4); k > 0; k--)
            {
                message[random.Next(message.Length)] = (byte)random.Next(256);
            }

            var length = random.Next(10) == 0 ? random.Next(message.Length) : message.Length;
            var result = Validator.Validate(message.AsSpan(0, length), facts);
            Assert.NotNull(result);
        }
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(5);
        var facts = new MessageFacts();
        var buffer = new byte[256];
        for (var i = 0; i < 5000; i++)
        {
            random.NextBytes(buffer);
            buffer[0] = (byte)'{';
            Assert.False(Validator.Validate(buffer.AsSpan(0, random.Next(buffer.Length)), facts).IsValid);
        }
    }
}
