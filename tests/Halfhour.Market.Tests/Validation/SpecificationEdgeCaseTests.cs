using System.Text.Json.Nodes;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Tests.Reference;
using Halfhour.Market.TestData;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Validation;

/// <summary>Edge cases of JSON Schema's meaning where an implementation could drift: numbers, string length, nulls.</summary>
public class SpecificationEdgeCaseTests
{
    private static readonly MessageValidator s_validator = new();

    private static JsonObject Consumption()
    {
        InterfaceCatalogue.Specification.TryGetVariant("IF-021", "ActivePower", out var variant);
        return new MessageGenerator().Generate(variant!, 5);
    }

    private static JsonObject Day(JsonObject message) =>
        message["payload"]!["CustomBlock"]!["B900"]!["settlementDayConsumptionPeriods"]![0]!["settlementDay"]!.AsObject();

    private static (bool Ours, bool Specification) Verdicts(JsonObject message)
    {
        var bytes = MessageGenerator.ToUtf8(message);
        var result = s_validator.Validate(bytes, new MessageFacts());
        return (result.IsValid || result.Code == MessageCode.SemanticFailure, SpecificationSchema.Accepts(bytes));
    }

    [Theory]
    [InlineData("30", true)]
    [InlineData("30.0", true)]
    [InlineData("3e1", true)]
    [InlineData("30.5", false)]
    [InlineData("45", false)]
    [InlineData("-30", false)]
    public void Integers_written_in_any_JSON_form_are_judged_as_the_specification_judges_them(string number, bool valid)
    {
        var message = Consumption();
        Day(message)["periodDuration"] = JsonNode.Parse(number);
        var (ours, specification) = Verdicts(message);
        Assert.Equal(valid, ours);
        Assert.Equal(specification, ours);
    }

    [Theory]
    [InlineData("ABCDEFGHIJ", true)]   // 500 characters in all, the most subText may have
    [InlineData("ÀÉÎÕÜÇÑÅØÆ", true)]   // still 500 characters, though 510 bytes
    [InlineData("😀😀😀😀😀😀😀😀😀😀", true)] // still 500 characters, though 510 UTF-16 units and 530 bytes
    [InlineData("ABCDEFGHIJK", false)] // 501 characters
    public void String_lengths_are_counted_in_characters_not_bytes(string tail, bool valid)
    {
        var message = Consumption();
        message["payload"]!["CommonBlock"]!["S1"]!["subText"] = new string('x', 490) + tail;
        var (ours, specification) = Verdicts(message);
        Assert.Equal(valid, ours);
        Assert.Equal(specification, ours);
    }

    [Fact]
    public void Null_is_refused_where_the_type_is_not_nullable_and_admitted_where_it_is()
    {
        var message = Consumption();
        message["payload"]!["CommonBlock"]!["S1"]!["subText"] = null;
        Assert.Equal((true, true), Verdicts(message));
        message["payload"]!["CommonBlock"]!["S1"]!["senderTimestamp"] = null;
        Assert.Equal((false, false), Verdicts(message));
    }

    [Fact]
    public void Extra_members_beside_the_payload_are_admitted_as_the_specifications_message_admits_them()
    {
        var message = Consumption();
        message["trace"] = "x";
        Assert.Equal((true, true), Verdicts(message));
    }
}
