using System.Text;
using System.Text.Json.Nodes;
using Halfhour.Market.Consumption;
using Halfhour.Market.Rules;
using Halfhour.Market.Validation;
using static Halfhour.Market.Tests.Consumption.ConsumptionMessages;

namespace Halfhour.Market.Tests.Consumption;

public class ConsumptionValidatorTests
{
    private static readonly ConsumptionValidator Validator = new();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Generated_messages_of_both_events_are_accepted(bool reactive)
    {
        var builder = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { Reactive = reactive, Seed = 7 });
        for (var n = 0; n < 500; n++)
        {
            var result = Validator.Validate(builder.Build(n), new MessageFacts());
            Assert.True(result.IsValid, $"message {n}: {result}");
        }
    }

    [Fact]
    public void One_validator_serves_many_threads_at_once()
    {
        var builder = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { Seed = 11 });
        var messages = Enumerable.Range(0, 64).Select(n => (Bytes: builder.Build(n), Mpan: builder.MpanOf(n))).ToArray();
        Parallel.For(0, 4, _ =>
        {
            var facts = new MessageFacts();
            for (var round = 0; round < 20; round++)
            {
                foreach (var (bytes, mpan) in messages)
                {
                    Assert.True(Validator.Validate(bytes, facts).IsValid);
                    Assert.Equal(mpan.ToString(System.Globalization.CultureInfo.InvariantCulture), facts.Mpan);
                    Assert.Equal(builder.Roster.DataServiceOf(mpan), facts.SenderDipId);
                }
            }
        });
    }

    [Fact]
    public void A_message_of_two_hundred_settlement_days_is_accepted()
    {
        var builder = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { SettlementDays = 200 });
        var result = Validator.Validate(builder.Build(3), new MessageFacts());
        Assert.True(result.IsValid, result.ToString());
    }

    [Fact]
    public void Validation_allocates_only_the_facts_however_many_periods_a_message_carries()
    {
        var oneDay = new ConsumptionMessageBuilder().Build(1);
        var twoHundredDays = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { SettlementDays = 200 }).Build(1);
        var facts = new MessageFacts();
        Validator.Validate(oneDay, facts);
        Validator.Validate(twoHundredDays, facts);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(Validator.Validate(oneDay, facts).IsValid);
        var forOneDay = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(Validator.Validate(twoHundredDays, facts).IsValid);
        var forTwoHundredDays = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(forOneDay, forTwoHundredDays);
        Assert.InRange(forOneDay, 0, 512);
    }

    [Fact]
    public void The_facts_are_read_from_the_message()
    {
        var builder = new ConsumptionMessageBuilder();
        var facts = new MessageFacts();
        Assert.True(Validator.Validate(builder.Build(42), facts).IsValid);

        var mpan = builder.MpanOf(42);
        Assert.Equal("IF-021", facts.InterfaceId);
        Assert.Equal("ActivePower", facts.EventCode);
        Assert.Equal("011", facts.SchemaVersion);
        Assert.Equal("PRD", facts.EnvironmentTag);
        Assert.Equal(builder.Roster.DataServiceOf(mpan), facts.SenderDipId);
        Assert.Equal("SDS", facts.SenderRoleId);
        Assert.Null(facts.SenderCorrelationId);
        Assert.StartsWith("S-IF-021-", facts.SenderUniqueReference, StringComparison.Ordinal);
        Assert.Equal(25, facts.SenderTimestamp!.Length);
        Assert.Equal(mpan.ToString(System.Globalization.CultureInfo.InvariantCulture), facts.Mpan);
        Assert.True(MpanCore.IsValid(facts.Mpan));
        Assert.Equal(builder.Roster.DistributorOf(mpan), facts.DistributorDipId);
        Assert.Equal(ConsumptionRoster.GspGroupOf(mpan), facts.GspGroupId);
        Assert.Equal([builder.Roster.SupplierOf(mpan)], facts.PrimaryRecipients);
    }

    [Fact]
    public void The_same_seed_and_number_give_the_same_bytes_and_other_numbers_other_metering_points()
    {
        var a = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { Seed = 9 });
        var b = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { Seed = 9 });
        Assert.Equal(a.Build(5), b.Build(5));
        Assert.NotEqual(a.MpanOf(5), a.MpanOf(6));
    }

    public static TheoryData<string, MessageCode, string, string> Mutations => new()
    {
        { "a period removed", MessageCode.SemanticFailure, Periods, "periods:count" },
        { "a 49th period", MessageCode.LimitExceeded, Periods + "/48", "schema:maxItems" },
        { "no periods", MessageCode.SchemaFailure, Periods, "schema:minItems" },
        { "a period off the half hour", MessageCode.SemanticFailure, Periods + "/5/sp", "periods:half-hour" },
        { "a period of the next day", MessageCode.SemanticFailure, Periods + "/47/sp", "periods:outside-day" },
        { "two periods swapped", MessageCode.SemanticFailure, Periods + "/11/sp", "periods:order" },
        { "a period repeated", MessageCode.SemanticFailure, Periods + "/11/sp", "periods:repeat" },
        { "e missing with q=E1", MessageCode.SemanticFailure, Periods + "/3/e", "estimation-reason:required" },
        { "e present with q=A", MessageCode.SemanticFailure, Periods + "/3/e", "estimation-reason:with-actual" },
        { "arc without reason 9", MessageCode.SemanticFailure, Periods + "/3/arc", "amendment-reason:without-amendment" },
        { "arc missing with reason 9", MessageCode.SemanticFailure, Periods + "/3/arc", "amendment-reason:required" },
        { "v with two decimals", MessageCode.SchemaFailure, Periods + "/7/v", "schema:pattern" },
        { "v with ten integer digits", MessageCode.SchemaFailure, Periods + "/7/v", "schema:pattern" },
        { "v as a number", MessageCode.SchemaFailure, Periods + "/7/v", "schema:type" },
        { "q not in the enum", MessageCode.SchemaFailure, Periods + "/7/q", "schema:enum" },
        { "MPAN check digit wrong", MessageCode.SemanticFailure, "/payload/CommonBlock/M0/MPANCore", "mpan:check-digit" },
        { "MPAN with a letter", MessageCode.SchemaFailure, "/payload/CommonBlock/M0/MPANCore", "schema:pattern" },
        { "sender timestamp 30 February", MessageCode.SemanticFailure, "/payload/CommonBlock/S1/senderTimestamp", "datetime:format" },
        { "sp at hour 24", MessageCode.SemanticFailure, Periods + "/9/sp", "datetime:format" },
        { "date-time of 24 characters", MessageCode.SchemaFailure, "/payload/CommonBlock/S1/senderTimestamp", "schema:minLength" },
        { "settlement day not at midnight", MessageCode.SemanticFailure, Days + "/0/settlementDay/settlementDayDate", "settlement-day:midnight" },
        { "subText of 501 characters", MessageCode.SchemaFailure, "/payload/CommonBlock/S1/subText", "schema:maxLength" },
        { "correlation ID of 61 characters", MessageCode.SchemaFailure, "/payload/CommonBlock/S1/senderCorrelationID", "schema:maxLength" },
        { "sender unique reference of 201 characters", MessageCode.SchemaFailure, "/payload/CommonBlock/S1/senderUniqueReference", "schema:maxLength" },
        { "sender unique reference off pattern", MessageCode.SchemaFailure, "/payload/CommonBlock/S1/senderUniqueReference", "schema:pattern" },
        { "sender DIP ID as a number", MessageCode.SchemaFailure, "/payload/CommonBlock/S1/senderDIPID", "schema:type" },
        { "sender DIP ID null", MessageCode.SchemaFailure, "/payload/CommonBlock/S1/senderDIPID", "schema:type" },
        { "period duration 60", MessageCode.SchemaFailure, Days + "/0/settlementDay/periodDuration", "schema:maximum" },
        { "period duration as a string", MessageCode.SchemaFailure, Days + "/0/settlementDay/periodDuration", "schema:type" },
        { "replay indicator as a string", MessageCode.SchemaFailure, "/payload/CommonBlock/D0/replayIndicator", "schema:type" },
        { "settlement days as an object", MessageCode.SchemaFailure, Days, "schema:type" },
        { "GSP group _I", MessageCode.SchemaFailure, "/payload/CommonBlock/M0/GSPGroupID", "schema:enum" },
        { "reactive quantity on ActivePower", MessageCode.SemanticFailure, "/payload/CustomBlock/B900/MQID/measurementQuantityID", "mqid:event-code" },
        { "subText missing", MessageCode.SchemaFailure, "/payload/CommonBlock/S1/subText", "schema:required" },
        { "arc missing", MessageCode.SchemaFailure, Periods + "/0/arc", "schema:required" },
        { "B067 missing", MessageCode.SchemaFailure, "/payload/CustomBlock/B067", "schema:required" },
        { "M0 missing", MessageCode.SchemaFailure, "/payload/CommonBlock/M0", "schema:required" },
        { "A0 list missing", MessageCode.SchemaFailure, "/payload/CommonBlock/A0/always", "schema:required" },
        { "bad MPAN before a bad v", MessageCode.SchemaFailure, Periods + "/7/v", "schema:pattern" },
        { "two market-rule failures", MessageCode.SemanticFailure, "/payload/CommonBlock/M0/MPANCore", "mpan:check-digit" },
    };

    [Theory]
    [MemberData(nameof(Mutations))]
    public void Each_mutation_is_rejected_with_its_code_pointer_and_rule(string mutation, MessageCode code, string pointer, string rule)
    {
        var result = Validate(Edited(Mutators[mutation]));
        Assert.Equal((code, pointer, rule), (result.Code, result.Pointer, result.Rule));
        Assert.False(string.IsNullOrWhiteSpace(result.Detail));
    }

    public static TheoryData<string> Levels => new()
    {
        "", "/payload", "/payload/CommonBlock", "/payload/CommonBlock/S0", "/payload/CommonBlock/S1", "/payload/CommonBlock/A0",
        "/payload/CommonBlock/D0", "/payload/CommonBlock/M0", "/payload/CustomBlock", "/payload/CustomBlock/B044",
        "/payload/CustomBlock/B067", "/payload/CustomBlock/B900", "/payload/CustomBlock/B900/MQID", Days + "/0",
        Days + "/0/settlementDay", Periods + "/0", Periods + "/47",
    };

    [Theory]
    [MemberData(nameof(Levels))]
    public void An_unknown_field_is_rejected_at_every_level(string level)
    {
        var message = Edited(m =>
        {
            m.Payload()["CommonBlock"]!["D0"] = ValidD0();
            Resolve(m, level)["surplus"] = "x";
        });
        var result = Validate(message);
        Assert.Equal((MessageCode.SchemaFailure, level + "/surplus", "schema:additionalProperties"), (result.Code, result.Pointer, result.Rule));
    }

    [Fact]
    public void A_message_with_the_backbone_block_D0_is_accepted()
    {
        var result = Validate(Edited(m => m.Payload()["CommonBlock"]!["D0"] = ValidD0()));
        Assert.True(result.IsValid, result.ToString());
    }

    [Fact]
    public void More_than_two_hundred_settlement_days_exceed_the_limit()
    {
        var tree = JsonNode.Parse(new ConsumptionMessageBuilder(new ConsumptionMessageOptions { SettlementDays = 200 }).Build(1))!.AsObject();
        tree.SettlementDays().Add(tree.SettlementDays()[199]!.DeepClone());
        var result = Validate(Bytes(tree));
        Assert.Equal((MessageCode.LimitExceeded, Days + "/200", "schema:maxItems"), (result.Code, result.Pointer, result.Rule));
    }

    [Fact]
    public void Settlement_days_out_of_order_are_a_market_rule_failure()
    {
        var tree = JsonNode.Parse(new ConsumptionMessageBuilder(new ConsumptionMessageOptions { SettlementDays = 3 }).Build(1))!.AsObject();
        var days = tree.SettlementDays();
        var second = days[1]!;
        days.RemoveAt(1);
        days.Add(second);
        var result = Validate(Bytes(tree));
        Assert.Equal((MessageCode.SemanticFailure, Days + "/2/settlementDay/settlementDayDate", "settlement-days:order"), (result.Code, result.Pointer, result.Rule));
    }

    [Fact]
    public void A_day_given_after_its_periods_is_checked_the_same_way()
    {
        var tree = Tree();
        var day = tree.SettlementDays()[0]!.AsObject();
        var header = day["settlementDay"]!;
        day.Remove("settlementDay");
        day["settlementDay"] = header;
        Assert.True(Validate(Bytes(tree)).IsValid);

        header["settlementDayDate"] = "2025-01-16T00:00:00+00:00";
        var result = Validate(Bytes(tree));
        Assert.Equal((MessageCode.SemanticFailure, Periods + "/0/sp", "periods:outside-day"), (result.Code, result.Pointer, result.Rule));
    }

    [Fact]
    public void Period_ends_are_accepted_when_the_rules_say_sp_is_the_end_of_the_period()
    {
        var endStamped = new ConsumptionValidator(new ConsumptionRules { PeriodStamp = PeriodStamp.End });
        var shifted = Edited(m =>
        {
            var periods = m.PeriodsOf();
            for (var p = 0; p < periods.Count; p++)
            {
                var start = DateTimeOffset.Parse((string)periods[p]!["sp"]!, System.Globalization.CultureInfo.InvariantCulture);
                periods[p]!["sp"] = MarketDateTime.Format(start.AddMinutes(30));
            }
        });
        Assert.True(Validate(shifted, endStamped).IsValid);
        Assert.Equal("periods:outside-day", Validate(shifted).Rule);
        Assert.Equal("periods:outside-day", Validate(Valid(), endStamped).Rule);
    }

    [Fact]
    public void Escaped_strings_are_judged_by_what_they_stand_for()
    {
        var text = Encoding.UTF8.GetString(Valid()).Replace("\"q\":\"A\"", "\"q\":\"\\u0041\"", StringComparison.Ordinal)
            .Replace("\"sp\":", "\"\\u0073p\":", StringComparison.Ordinal);
        Assert.True(Validate(Encoding.UTF8.GetBytes(text)).IsValid);
    }

    [Fact]
    public void Subtext_length_is_counted_in_characters_not_bytes()
    {
        Assert.True(Validate(Edited(m => m.Common("S1")["subText"] = new string('é', 500))).IsValid);
        Assert.True(Validate(Edited(m => m.Common("S1")["subText"] = string.Concat(Enumerable.Repeat("😀", 500)))).IsValid);
        Assert.Equal("schema:maxLength", Validate(Edited(m => m.Common("S1")["subText"] = string.Concat(Enumerable.Repeat("😀", 501)))).Rule);
    }

    private static JsonObject ValidD0() => new()
    {
        ["transactionID"] = "T-IF-021-0123456789-SDS-20250116-1",
        ["transactionTimestamp"] = "2025-01-16T02:00:00+00:00",
        ["publicationID"] = "PUB-021",
        ["initialCorrelationID"] = null,
        ["replayIndicator"] = false,
        ["serviceTicketURL"] = null,
    };

    private static JsonObject Resolve(JsonObject root, string pointer)
    {
        JsonNode node = root;
        foreach (var token in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            node = int.TryParse(token, out var index) ? node[index]! : node[token]!;
        }

        return node.AsObject();
    }

    private static void SetSp(JsonObject m, int period, string time) => m.Period(period)["sp"] = "2025-01-15T" + time + "+00:00";

    internal static readonly Dictionary<string, Action<JsonObject>> Mutators = new()
    {
        ["a period removed"] = m => m.PeriodsOf().RemoveAt(47),
        ["a 49th period"] = m => m.PeriodsOf().Add(m.Period(47).DeepClone()),
        ["no periods"] = m => m.PeriodsOf().Clear(),
        ["a period off the half hour"] = m => SetSp(m, 5, "02:40:00"),
        ["a period of the next day"] = m => m.Period(47)["sp"] = "2025-01-16T00:00:00+00:00",
        ["two periods swapped"] = m => { SetSp(m, 10, "05:30:00"); SetSp(m, 11, "05:00:00"); },
        ["a period repeated"] = m => SetSp(m, 11, "05:00:00"),
        ["e missing with q=E1"] = m => { m.Period(3)["q"] = "E1"; m.Period(3)["e"] = null; },
        ["e present with q=A"] = m => { m.Period(3)["q"] = "A"; m.Period(3)["e"] = "2"; m.Period(3)["arc"] = null; },
        ["arc without reason 9"] = m => { m.Period(3)["q"] = "E1"; m.Period(3)["e"] = "2"; m.Period(3)["arc"] = "M"; },
        ["arc missing with reason 9"] = m => { m.Period(3)["q"] = "E2"; m.Period(3)["e"] = "9"; m.Period(3)["arc"] = null; },
        ["v with two decimals"] = m => m.Period(7)["v"] = "0.25",
        ["v with ten integer digits"] = m => m.Period(7)["v"] = "1234567890.000",
        ["v as a number"] = m => m.Period(7)["v"] = 0.25,
        ["q not in the enum"] = m => m.Period(7)["q"] = "B",
        ["MPAN check digit wrong"] = m => m.Common("M0")["MPANCore"] = WrongCheckDigit((string)m.Common("M0")["MPANCore"]!),
        ["MPAN with a letter"] = m => m.Common("M0")["MPANCore"] = "12345678901X3",
        ["sender timestamp 30 February"] = m => m.Common("S1")["senderTimestamp"] = "2025-02-30T01:00:00+00:00",
        ["sp at hour 24"] = m => SetSp(m, 9, "24:00:00"),
        ["date-time of 24 characters"] = m => m.Common("S1")["senderTimestamp"] = "2025-01-16T01:00:00+0000",
        ["settlement day not at midnight"] = m => m.SettlementDays()[0]!["settlementDay"]!["settlementDayDate"] = "2025-01-15T00:30:00+00:00",
        ["subText of 501 characters"] = m => m.Common("S1")["subText"] = new string('x', 501),
        ["correlation ID of 61 characters"] = m => m.Common("S1")["senderCorrelationID"] = new string('c', 61),
        ["sender unique reference of 201 characters"] = m => m.Common("S1")["senderUniqueReference"] = "S-IF-021-2000000001-SDS-20250115-" + new string('a', 168),
        ["sender unique reference off pattern"] = m => m.Common("S1")["senderUniqueReference"] = "S-IF-021-200000000-SDS-20250115-1",
        ["sender DIP ID as a number"] = m => m.Common("S1")["senderDIPID"] = 2000000001,
        ["sender DIP ID null"] = m => m.Common("S1")["senderDIPID"] = null,
        ["period duration 60"] = m => m.SettlementDays()[0]!["settlementDay"]!["periodDuration"] = 60,
        ["period duration as a string"] = m => m.SettlementDays()[0]!["settlementDay"]!["periodDuration"] = "30",
        ["replay indicator as a string"] = m => { var d0 = ValidD0(); d0["replayIndicator"] = "false"; m.Payload()["CommonBlock"]!["D0"] = d0; },
        ["settlement days as an object"] = m => m.Custom("B900")["settlementDayConsumptionPeriods"] = new JsonObject(),
        ["GSP group _I"] = m => m.Common("M0")["GSPGroupID"] = "_I",
        ["reactive quantity on ActivePower"] = m => m.Custom("B900")["MQID"]!["measurementQuantityID"] = "RI",
        ["subText missing"] = m => m.Common("S1").Remove("subText"),
        ["arc missing"] = m => m.Period(0).Remove("arc"),
        ["B067 missing"] = m => m.Payload()["CustomBlock"]!.AsObject().Remove("B067"),
        ["M0 missing"] = m => m.Payload()["CommonBlock"]!.AsObject().Remove("M0"),
        ["A0 list missing"] = m => m.Common("A0").Remove("always"),
        ["bad MPAN before a bad v"] = m => { m.Common("M0")["MPANCore"] = WrongCheckDigit((string)m.Common("M0")["MPANCore"]!); m.Period(7)["v"] = "1"; },
        ["two market-rule failures"] = m => { SetSp(m, 5, "02:40:00"); m.Common("M0")["MPANCore"] = WrongCheckDigit((string)m.Common("M0")["MPANCore"]!); },
    };

    internal static string WrongCheckDigit(string mpan) => mpan[..12] + (char)('0' + (mpan[12] - '0' + 1) % 10);
}
