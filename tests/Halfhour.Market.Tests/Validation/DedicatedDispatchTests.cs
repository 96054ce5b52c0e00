using System.Text;
using Halfhour.Market.Consumption;
using Halfhour.Market.Tests.Consumption;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Validation;

public class DedicatedDispatchTests
{
    private static readonly ConsumptionValidator s_dedicated = new();

    private static MessageValidator Dispatching()
    {
        var validator = new MessageValidator();
        validator.UseFor("IF-021", s_dedicated);
        return validator;
    }

    public static TheoryData<string, byte[]> Messages()
    {
        var data = new TheoryData<string, byte[]>
        {
            { "valid active", ConsumptionMessages.Valid(3) },
            { "valid reactive", ConsumptionMessages.Valid(4, reactive: true) },
            { "period value without decimals", ConsumptionMessages.Edited(m => m.Period(5)["v"] = "1") },
            { "unknown field in S1", ConsumptionMessages.Edited(m => m.Common("S1")["extra"] = "x") },
            { "47 periods", ConsumptionMessages.Edited(m => m.PeriodsOf().RemoveAt(47)) },
            { "S0 written last", Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(ConsumptionMessages.Valid(5)).Replace("{\"payload\":{\"CommonBlock\":{\"S0\":", "{\"payload\":{\"CommonBlock\":{\"S0x\":", StringComparison.Ordinal)) },
            { "truncated", ConsumptionMessages.Valid(6)[..200] },
        };
        return data;
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void A_message_for_a_dedicated_interface_gets_the_dedicated_verdict_through_the_generic_validator(string name, byte[] message)
    {
        var expected = s_dedicated.Validate(message, new MessageFacts());
        var facts = new MessageFacts();
        var actual = Dispatching().Validate(message, facts);
        if (name == "S0 written last" || name == "truncated")
        {
            // Not recognisable from its opening: the envelope pass answers, and it refuses the message too.
            Assert.False(actual.IsValid, name);
            return;
        }

        Assert.Equal(expected, actual);
        if (actual.IsValid)
        {
            Assert.Equal("IF-021", facts.InterfaceId);
            Assert.NotNull(facts.SenderUniqueReference);
            Assert.NotNull(facts.Mpan);
        }
    }
}
