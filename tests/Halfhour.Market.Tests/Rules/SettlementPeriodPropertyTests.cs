using System.Globalization;
using System.Text.Json.Nodes;
using CsCheck;
using Halfhour.Market.Consumption;
using Halfhour.Market.Rules;
using Halfhour.Market.Validation;
using Halfhour.Market.Tests.Consumption;

namespace Halfhour.Market.Tests.Rules;

/// <summary>Properties of the settlement periods of a UTC day, as the IF-021 validator judges them.</summary>
public class SettlementPeriodPropertyTests
{
    private static readonly ConsumptionValidator Validator = new();

    private static readonly Gen<DateOnly> Days = Gen.Int[new DateOnly(2000, 1, 1).DayNumber, new DateOnly(2100, 12, 31).DayNumber].Select(DateOnly.FromDayNumber);

    private static JsonObject MessageFor(DateOnly day, long number) =>
        JsonNode.Parse(new ConsumptionMessageBuilder(new ConsumptionMessageOptions { FirstSettlementDay = day }).Build(number))!.AsObject();

    private static ValidationResult Check(JsonObject message) => Validator.Validate(ConsumptionMessages.Bytes(message), new MessageFacts());

    [Fact]
    public void Every_UTC_day_with_its_48_half_hours_in_order_is_accepted_including_clock_change_days() =>
        Gen.Select(Days, Gen.Long[0, 1_000_000]).Sample((day, number) =>
        {
            var result = Check(MessageFor(day, number));
            Assert.True(result.IsValid, result.ToString());
        }, iter: 200);

    [Fact]
    public void Two_periods_swapped_are_out_of_order() =>
        Gen.Select(Days, Gen.Int[0, 46], Gen.Int[1, 47]).Sample((day, first, distance) =>
        {
            var second = Math.Min(47, first + distance);
            var message = MessageFor(day, 1);
            var periods = message.PeriodsOf();
            (periods[first]!["sp"], periods[second]!["sp"]) = (periods[second]!["sp"]!.DeepClone(), periods[first]!["sp"]!.DeepClone());
            var result = Check(message);
            Assert.Equal((MessageCode.SemanticFailure, "periods:order"), (result.Code, result.Rule));
            Assert.Equal(ConsumptionMessages.Periods + "/" + (first + 1) + "/sp", result.Pointer);
        }, iter: 200);

    [Fact]
    public void A_period_moved_off_the_half_hour_is_refused() =>
        Gen.Select(Days, Gen.Int[0, 47], Gen.Int[1, 1799]).Sample((day, period, seconds) =>
        {
            var message = MessageFor(day, 2);
            var sp = message.Period(period)["sp"]!;
            Assert.True(MarketDateTime.TryParse((string)sp!, out var start));
            message.Period(period)["sp"] = MarketDateTime.Format(start.AddSeconds(seconds));
            var result = Check(message);
            Assert.Equal((MessageCode.SemanticFailure, "periods:half-hour", ConsumptionMessages.Periods + "/" + period + "/sp"), (result.Code, result.Rule, result.Pointer));
        }, iter: 200);

    [Fact]
    public void A_day_missing_any_of_its_periods_has_the_wrong_count() =>
        Gen.Select(Days, Gen.Int[0, 47], Gen.Int[1, 47]).Sample((day, from, count) =>
        {
            var message = MessageFor(day, 3);
            var periods = message.PeriodsOf();
            for (var i = 0; i < count && from < periods.Count; i++)
            {
                periods.RemoveAt(from);
            }

            Assert.Equal("periods:count", Check(message).Rule);
        }, iter: 200);

    [Fact]
    public void A_repeated_period_is_refused_as_a_repeat() =>
        Gen.Select(Days, Gen.Int[1, 47]).Sample((day, period) =>
        {
            var message = MessageFor(day, 4);
            message.Period(period)["sp"] = message.Period(period - 1)["sp"]!.DeepClone();
            var result = Check(message);
            Assert.Equal(("periods:repeat", ConsumptionMessages.Periods + "/" + period + "/sp"), (result.Rule, result.Pointer));
        }, iter: 200);

    [Fact]
    public void A_message_parsed_and_serialised_again_keeps_its_verdict_and_facts() =>
        Gen.Select(Days, Gen.Long[0, 1_000_000], Gen.Bool).Sample((day, number, reactive) =>
        {
            var builder = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { FirstSettlementDay = day, Reactive = reactive });
            var original = builder.Build(number);
            var reserialised = ConsumptionMessages.Bytes(JsonNode.Parse(original)!);
            MessageFacts before = new(), after = new();
            Assert.Equal(Validator.Validate(original, before), Validator.Validate(reserialised, after));
            Assert.Equal((before.Mpan, before.SenderUniqueReference, before.EventCode), (after.Mpan, after.SenderUniqueReference, after.EventCode));
            Assert.Equal(builder.MpanOf(number).ToString(CultureInfo.InvariantCulture), after.Mpan);
        }, iter: 200);
}
