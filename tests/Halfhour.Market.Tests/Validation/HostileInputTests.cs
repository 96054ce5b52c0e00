using System.Text;
using Halfhour.Market.Catalogue;
using Halfhour.Market.TestData;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Validation;

public class HostileInputTests
{
    private static readonly MessageValidator s_validator = new();

    private static ValidationResult Validate(string json) => Validate(Encoding.UTF8.GetBytes(json));

    private static ValidationResult Validate(byte[] utf8) => s_validator.Validate(utf8, new MessageFacts());

    private static string ValidConsumption()
    {
        InterfaceCatalogue.Specification.TryGetVariant("IF-021", "ActivePower", out var variant);
        return Encoding.UTF8.GetString(new MessageGenerator().GenerateUtf8(variant!, 1));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"payload\":{}")]
    [InlineData("{\"payload\":{}} trailing")]
    [InlineData("{'payload':{}}")]
    [InlineData("{\"payload\":{\"a\":01}}")]
    public void Text_that_is_not_well_formed_JSON_is_a_malformed_message(string json)
    {
        var result = Validate(json);
        Assert.Equal(MessageCode.MalformedMessage, result.Code);
        Assert.Equal("json:syntax", result.Rule);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"payload\"")]
    [InlineData("{}")]
    [InlineData("{\"payload\":[]}")]
    [InlineData("{\"payload\":\"x\"}")]
    public void JSON_that_is_not_a_payload_object_is_a_malformed_message(string json)
    {
        var result = Validate(json);
        Assert.Equal(MessageCode.MalformedMessage, result.Code);
        Assert.Equal("envelope:payload", result.Rule);
    }

    [Fact]
    public void Invalid_UTF8_is_a_malformed_message()
    {
        var bytes = Encoding.UTF8.GetBytes(ValidConsumption());
        var at = Array.IndexOf(bytes, (byte)'S');
        bytes[at] = 0xC3; // a lead byte followed by an ASCII byte
        var result = Validate(bytes);
        Assert.Equal(MessageCode.MalformedMessage, result.Code);
        Assert.Equal("json:utf8", result.Rule);
    }

    [Fact]
    public void Nesting_beyond_the_depth_limit_is_a_limit_exceeded_not_a_stack_overflow()
    {
        var deep = "{\"payload\":{\"CustomBlock\":" + new string('[', 100_000) + new string(']', 100_000) + "}}";
        var result = Validate(deep);
        Assert.Equal(MessageCode.LimitExceeded, result.Code);
        Assert.Equal("limit:depth", result.Rule);
    }

    [Fact]
    public void A_message_larger_than_the_size_limit_is_refused_before_it_is_read()
    {
        var validator = new MessageValidator(limits: new ValidationLimits { MaxMessageBytes = 1024 });
        var result = validator.Validate(Encoding.UTF8.GetBytes(ValidConsumption().Replace("\"subText\":null", "\"subText\":\"" + new string('x', 2000) + "\"", StringComparison.Ordinal)), new MessageFacts());
        Assert.Equal(MessageCode.LimitExceeded, result.Code);
        Assert.Equal("limit:size", result.Rule);
    }

    [Fact]
    public void A_huge_string_in_a_field_is_a_schema_failure_that_says_its_length()
    {
        var json = ValidConsumption().Replace("\"subText\":null", "\"subText\":\"" + new string('x', 1_000_000) + "\"", StringComparison.Ordinal);
        var result = Validate(json);
        Assert.Equal(MessageCode.SchemaFailure, result.Code);
        Assert.Equal("/payload/CommonBlock/S1/subText", result.Pointer);
        Assert.Equal("schema:maxLength", result.Rule);
        Assert.Contains("at most 500 characters; got 1000000", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_number_where_a_string_belongs_is_a_type_failure_at_that_field()
    {
        var json = ValidConsumption();
        var start = json.IndexOf("\"senderDIPID\":\"", StringComparison.Ordinal) + "\"senderDIPID\":".Length;
        json = json[..start] + "1234567890" + json[(start + 12)..];
        var result = Validate(json);
        Assert.Equal(MessageCode.SchemaFailure, result.Code);
        Assert.Equal("/payload/CommonBlock/S1/senderDIPID", result.Pointer);
        Assert.Equal("schema:type", result.Rule);
    }

    [Fact]
    public void A_duplicated_key_is_a_malformed_message_naming_the_key()
    {
        var json = ValidConsumption().Replace("\"subText\":null", "\"subText\":null,\"subText\":\"again\"", StringComparison.Ordinal);
        var result = Validate(json);
        Assert.Equal(MessageCode.MalformedMessage, result.Code);
        Assert.Equal("json:duplicate-key", result.Rule);
        Assert.Equal("/payload/CommonBlock/S1/subText", result.Pointer);
    }

    [Fact]
    public void Escaped_text_is_read_as_the_text_it_stands_for()
    {
        var json = ValidConsumption().Replace("\"environmentTag\":\"DEV\"", "\"environment\\u0054ag\":\"D\\u0045V\"", StringComparison.Ordinal);
        Assert.True(Validate(json).IsValid);
    }

    [Fact]
    public void A_lone_surrogate_escape_is_refused_without_an_exception()
    {
        var json = ValidConsumption().Replace("\"subText\":null", "\"subText\":\"\\uD800\"", StringComparison.Ordinal);
        var result = Validate(json);
        Assert.False(result.IsValid);
    }

    [Fact]
    public void Random_bytes_and_random_cuts_of_a_valid_message_never_throw()
    {
        var valid = Encoding.UTF8.GetBytes(ValidConsumption());
        var random = new Random(42);
        for (var i = 0; i < 2000; i++)
        {
            var bytes = (byte[])valid.Clone();
            for (var flips = random.Next(1, 4); flips > 0; flips--)
            {
                bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            }

            var cut = bytes.AsSpan(0, random.Next(bytes.Length + 1)).ToArray();
            Assert.NotNull(Validate(bytes));
            Assert.NotNull(Validate(cut));
        }
    }
}
