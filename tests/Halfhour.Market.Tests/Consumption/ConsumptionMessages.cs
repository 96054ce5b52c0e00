using System.Text;
using System.Text.Json.Nodes;
using Halfhour.Market.Consumption;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Consumption;

/// <summary>Generated IF-021 messages for tests, and edits of them through a JSON tree.</summary>
internal static class ConsumptionMessages
{
    public const string Days = "/payload/CustomBlock/B900/settlementDayConsumptionPeriods";
    public const string Periods = Days + "/0/consumptionPeriods";

    private static readonly ConsumptionMessageBuilder Active = new();
    private static readonly ConsumptionMessageBuilder Reactive = new(new ConsumptionMessageOptions { Reactive = true });

    public static byte[] Valid(long number = 1, bool reactive = false) => (reactive ? Reactive : Active).Build(number);

    public static JsonObject Tree(long number = 1, bool reactive = false) => JsonNode.Parse(Valid(number, reactive))!.AsObject();

    public static byte[] Edited(Action<JsonObject> edit, long number = 1, bool reactive = false)
    {
        var tree = Tree(number, reactive);
        edit(tree);
        return Bytes(tree);
    }

    public static byte[] Bytes(JsonNode tree) => Encoding.UTF8.GetBytes(tree.ToJsonString());

    public static JsonObject Payload(this JsonObject message) => message["payload"]!.AsObject();

    public static JsonObject Common(this JsonObject message, string block) => message["payload"]!["CommonBlock"]![block]!.AsObject();

    public static JsonObject Custom(this JsonObject message, string block) => message["payload"]!["CustomBlock"]![block]!.AsObject();

    public static JsonArray SettlementDays(this JsonObject message) => message.Custom("B900")["settlementDayConsumptionPeriods"]!.AsArray();

    public static JsonArray PeriodsOf(this JsonObject message, int day = 0) => message.SettlementDays()[day]!["consumptionPeriods"]!.AsArray();

    public static JsonObject Period(this JsonObject message, int period, int day = 0) => message.PeriodsOf(day)[period]!.AsObject();

    public static ValidationResult Validate(byte[] message, ConsumptionValidator? validator = null) =>
        (validator ?? new ConsumptionValidator()).Validate(message, new MessageFacts());
}
