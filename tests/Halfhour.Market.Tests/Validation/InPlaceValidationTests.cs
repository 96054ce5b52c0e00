using System.Text;
using System.Text.Json;
using CsCheck;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Consumption;
using Halfhour.Market.Envelope;
using Halfhour.Market.TestData;
using Halfhour.Market.Tests.Consumption;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Validation;

/// <summary>
/// A message validated where a batch's reader stands on it (the server's one pass over a published array) gets the same
/// verdict and the same facts as the same message validated from its own bytes, and leaves the reader on its last token.
/// </summary>
public class InPlaceValidationTests
{
    /// <summary>Samples of the property: every variant a few times, quick enough for the default run.</summary>
    private const long Samples = 300;

    private static readonly IReadOnlyList<PayloadVariant> s_variants = InterfaceCatalogue.Specification.Variants;
    private static readonly MessageGenerator s_generator = new();
    private static readonly ConsumptionValidator s_consumption = new();
    private static readonly MessageValidator s_generic = new();
    private static readonly MessageValidator s_dispatching = Dispatching();

    private static MessageValidator Dispatching()
    {
        var validator = new MessageValidator();
        validator.UseFor("IF-021", s_consumption);
        return validator;
    }

    private static readonly string[] s_validatorNames = ["consumption", "generic", "dispatching"];

    public static TheoryData<string> Validators() => new(s_validatorNames);

    private static IMessageValidator Named(string name) => name switch
    {
        "consumption" => s_consumption,
        "generic" => s_generic,
        _ => s_dispatching,
    };

    [Fact]
    public void Any_generated_or_mutated_message_inside_a_batch_gets_the_verdict_and_facts_of_its_own_bytes()
    {
        Gen.Select(Gen.Int[0, s_variants.Count - 1], Gen.Int, Gen.Int[-1, int.MaxValue], Gen.Int[0, 2]).Sample((index, seed, pick, which) =>
        {
            var variant = s_variants[index];
            var valid = s_generator.Generate(variant, seed);
            var mutations = MessageMutator.All(variant, valid).ToList();
            var message = pick < 0 || mutations.Count == 0 ? MessageGenerator.ToUtf8(valid) : mutations[pick % mutations.Count].Message;
            AssertSameInBatch(Named(s_validatorNames[which]), message);
        }, iter: Samples);
    }

    public static TheoryData<string, string> Awkward() => new()
    {
        { "a number", "42" },
        { "a string", "\"odd\"" },
        { "null", "null" },
        { "an array", "[1,{\"payload\":{}},[]]" },
        { "an empty object", "{}" },
        { "no payload", "{\"surplus\":{\"a\":[1,2,{\"b\":null}]}}" },
        { "S0 written last", Encoding.UTF8.GetString(ConsumptionMessages.Valid(5)).Replace("{\"payload\":{\"CommonBlock\":{\"S0\":", "{\"payload\":{\"CommonBlock\":{\"S0x\":", StringComparison.Ordinal) },
        { "deep nesting where a string belongs", "{\"payload\":{\"CommonBlock\":{\"S0\":{\"interfaceID\":" + new string('[', 20) + new string(']', 20) + "}}}}" },
        { "an unknown field early, much after it", Encoding.UTF8.GetString(ConsumptionMessages.Edited(m => m.Common("S0")["extra"] = new System.Text.Json.Nodes.JsonArray(1, 2, 3))) },
        { "a period with an escaped value", Encoding.UTF8.GetString(ConsumptionMessages.Valid(7)).Replace("\"q\":\"A\"", "\"q\":\"\\u0041\"", StringComparison.Ordinal) },
        { "a lone surrogate escape", Encoding.UTF8.GetString(ConsumptionMessages.Valid(8)).Replace("\"subText\":null", "\"subText\":\"\\ud800\"", StringComparison.Ordinal) },
        { "47 periods", Encoding.UTF8.GetString(ConsumptionMessages.Edited(m => m.PeriodsOf().RemoveAt(47))) },
        { "a reactive message", Encoding.UTF8.GetString(ConsumptionMessages.Valid(9, reactive: true)) },
    };

    [Theory]
    [MemberData(nameof(Awkward))]
    public void An_awkward_element_gets_the_same_verdict_in_place_from_every_validator(string name, string element)
    {
        foreach (var validator in s_validatorNames)
        {
            AssertSameInBatch(Named(validator), Encoding.UTF8.GetBytes(element), name + " / " + validator);
        }
    }

    [Theory]
    [MemberData(nameof(Validators))]
    public void Invalid_utf8_inside_an_element_is_judged_as_from_its_own_bytes(string validator)
    {
        var message = ConsumptionMessages.Edited(m => m.Common("S1")["subText"] = "PLACEHOLDER");
        var at = Encoding.UTF8.GetString(message).IndexOf("PLACEHOLDER", StringComparison.Ordinal);
        message[at] = 0xC3;
        message[at + 1] = 0x28;
        AssertSameInBatch(Named(validator), message);
    }

    [Theory]
    [MemberData(nameof(Validators))]
    public void A_message_over_the_size_limit_is_refused_for_its_size_with_no_facts_as_from_its_own_bytes(string validator)
    {
        var tooBig = ConsumptionMessages.Edited(m => m.Common("S1")["subText"] = new string('x', 9_000_000));
        var (verdict, facts) = AssertSameInBatch(Named(validator), tooBig);
        Assert.Equal(MessageCode.LimitExceeded, verdict.Code);
        Assert.Null(facts.SenderUniqueReference);
    }

    [Fact]
    public void Malformed_json_inside_an_element_throws_for_the_batch_to_judge()
    {
        var message = Encoding.UTF8.GetString(ConsumptionMessages.Valid(3));
        var body = Encoding.UTF8.GetBytes("[" + message + "," + message.Replace("\"v\":\"", "\"v\":x\"", StringComparison.Ordinal) + "]");
        foreach (var validator in s_validatorNames)
        {
            var thrown = Record.Exception(() =>
            {
                var reader = new Utf8JsonReader(body);
                reader.Read();
                reader.Read();
                Assert.True(Named(validator).Validate(ref reader, body, new MessageFacts()).IsValid);
                reader.Read();
                Named(validator).Validate(ref reader, body, new MessageFacts());
            });
            Assert.IsAssignableFrom<JsonException>(thrown);
        }
    }

    /// <summary>
    /// Puts <paramref name="message"/> between two valid messages in an array, validates the three in place, and checks
    /// the middle one's verdict and facts against its own bytes' and that every element ends where the array's splitter says.
    /// </summary>
    private static (ValidationResult Verdict, MessageFacts Facts) AssertSameInBatch(IMessageValidator validator, byte[] message, string? name = null)
    {
        var neighbour = ConsumptionMessages.Valid(11);
        var body = Encoding.UTF8.GetBytes("[ " + Encoding.UTF8.GetString(neighbour) + " ,\n" + Encoding.UTF8.GetString(message) + "\t, " + Encoding.UTF8.GetString(neighbour) + " ]");
        if (Array.IndexOf(message, (byte)0xC3) >= 0)
        {
            // Invalid UTF-8 does not survive a round trip through a string: splice the bytes.
            var prefix = Encoding.UTF8.GetBytes("[ " + Encoding.UTF8.GetString(neighbour) + " ,\n");
            var suffix = Encoding.UTF8.GetBytes("\t, " + Encoding.UTF8.GetString(neighbour) + " ]");
            body = [.. prefix, .. message, .. suffix];
        }

        var ranges = new List<Range>();
        Assert.True(MessageBatch.TrySplit(body, ranges), name);
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64 });
        reader.Read();
        var results = new List<(ValidationResult, MessageFacts)>();
        for (var i = 0; i < ranges.Count; i++)
        {
            reader.Read();
            var facts = new MessageFacts();
            var verdict = validator.Validate(ref reader, body, facts);
            Assert.Equal(ranges[i].End.Value, (int)reader.BytesConsumed);
            var alone = new MessageFacts();
            var expected = validator.Validate(body.AsSpan()[ranges[i]], alone);
            Assert.True(expected == verdict, $"{name}: element {i}: in place {verdict}, from its bytes {expected}");
            Assert.Equal(Describe(alone), Describe(facts));
            results.Add((verdict, facts));
        }

        reader.Read();
        Assert.Equal(JsonTokenType.EndArray, reader.TokenType);
        Assert.False(reader.Read());
        return results[1];
    }

    private static string Describe(MessageFacts f) => string.Join("|",
        f.InterfaceId, f.EventCode, f.SchemaVersion, f.EnvironmentTag, f.SenderUniqueReference, f.SenderTimestamp, f.SenderDipId, f.SenderRoleId,
        f.SenderCorrelationId, f.Mpan, f.DistributorDipId, f.GspGroupId, string.Join(",", f.PrimaryRecipients));
}
