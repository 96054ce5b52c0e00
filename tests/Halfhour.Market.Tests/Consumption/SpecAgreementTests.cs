using System.Text.Json.Nodes;
using Halfhour.Market.Consumption;
using Halfhour.Market.Validation;
using static Halfhour.Market.Tests.Consumption.ConsumptionMessages;

namespace Halfhour.Market.Tests.Consumption;

/// <summary>
/// For generated messages and random mutations of them, the dedicated validator's schema verdict agrees with
/// JsonSchema.Net evaluating the spec's own schema: a message fails the schema (SchemaFailure, LimitExceeded on an
/// array bound) exactly when the spec's schema rejects it; market-rule failures happen only to schema-valid messages.
/// </summary>
public class SpecAgreementTests
{
    private static readonly ConsumptionValidator Validator = new();

    [Fact]
    public void The_spec_schema_and_the_validator_agree_on_generated_messages_of_both_events()
    {
        for (var n = 0; n < 40; n++)
        {
            var message = Valid(n, reactive: n % 2 == 1);
            Assert.True(SpecSchema.Accepts(message), $"the spec rejects generated message {n}");
            Assert.True(Validator.Validate(message, new MessageFacts()).IsValid);
        }
    }

    [Theory]
    [MemberData(nameof(ConsumptionValidatorTests.Mutations), MemberType = typeof(ConsumptionValidatorTests))]
    public void The_spec_schema_rejects_exactly_the_named_mutations_the_validator_calls_schema_failures(string mutation, MessageCode code, string pointer, string rule)
    {
        _ = (pointer, rule);
        var message = Edited(ConsumptionValidatorTests.Mutators[mutation]);
        Assert.Equal(code is MessageCode.SemanticFailure, SpecSchema.Accepts(message));
    }

    // JSON Schema counts a string's length in code points (RFC 8259 characters), and so does the validator.
    // JsonSchema.Net counts grapheme clusters instead, so a base letter with a combining accent is one character
    // to it and two to the standard: the one place the oracle is knowingly not followed.
    [Theory]
    [InlineData("é", 500, true, true)]
    [InlineData("é", 501, false, false)]
    [InlineData("😀", 300, true, true)]
    [InlineData("😀", 500, true, true)]
    [InlineData("😀", 501, false, false)]
    [InlineData("e\u0301", 250, true, true)]
    [InlineData("e\u0301", 300, false, true)]
    public void Lengths_are_counted_in_code_points_as_JSON_Schema_defines_them(string unit, int repeat, bool validatorAccepts, bool oracleAccepts)
    {
        var message = Edited(m => m.Common("S1")["subText"] = string.Concat(Enumerable.Repeat(unit, repeat)));
        Assert.Equal(validatorAccepts, Validate(message).IsValid);
        Assert.Equal(oracleAccepts, SpecSchema.Accepts(message));
    }

    [Fact]
    public void The_spec_schema_and_the_validator_agree_on_random_mutations()
    {
        var random = new Random(2026);
        var disagreements = new List<string>();
        var schemaRejected = 0;
        for (var i = 0; i < 1500; i++)
        {
            var tree = Tree(random.Next(1000), reactive: random.Next(2) == 1);
            var what = Mutate(tree, random);
            var message = Bytes(tree);
            var result = Validator.Validate(message, new MessageFacts());
            var specAccepts = SpecSchema.Accepts(message);
            var validatorSchemaOk = result.Code is not (MessageCode.SchemaFailure or MessageCode.LimitExceeded or MessageCode.MalformedMessage);
            schemaRejected += specAccepts ? 0 : 1;
            if (specAccepts != validatorSchemaOk)
            {
                disagreements.Add($"{what}: spec {(specAccepts ? "accepts" : "rejects")}, validator {result}");
            }
        }

        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements.Take(20)));
        Assert.InRange(schemaRejected, 300, 1400);
    }

    // One random edit somewhere in the message: a leaf replaced by a value of another type, length or spelling,
    // a property removed or added, an array item removed or duplicated.
    private static string Mutate(JsonObject root, Random random)
    {
        var containers = new List<(JsonNode Node, string Path)>();
        Collect(root, "", containers);
        var (node, path) = containers[random.Next(containers.Count)];
        switch (node)
        {
            case JsonObject o when o.Count > 0:
                var keys = o.Select(p => p.Key).ToList();
                var key = keys[random.Next(keys.Count)];
                switch (random.Next(4))
                {
                    case 0:
                        o.Remove(key);
                        return $"{path}/{key} removed";
                    case 1:
                        o["unexpected" + random.Next(3)] = "x";
                        return $"{path} with an unknown property";
                    default:
                        var value = RandomValue(o[key], random);
                        o[key] = value;
                        return $"{path}/{key} = {value?.ToJsonString() ?? "null"}";
                }

            case JsonArray a when a.Count > 0:
                var index = random.Next(a.Count);
                switch (random.Next(3))
                {
                    case 0:
                        a.RemoveAt(index);
                        return $"{path}/{index} removed";
                    case 1:
                        a.Add(a[index]!.DeepClone());
                        return $"{path}/{index} duplicated";
                    default:
                        var value = RandomValue(a[index], random);
                        a[index] = value;
                        return $"{path}/{index} = {value?.ToJsonString() ?? "null"}";
                }

            default:
                return "nothing";
        }
    }

    private static void Collect(JsonNode node, string path, List<(JsonNode, string)> into)
    {
        into.Add((node, path));
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, child) in o)
                {
                    if (child is JsonObject or JsonArray)
                    {
                        Collect(child, path + "/" + key, into);
                    }
                }

                break;
            case JsonArray a:
                // Periods are many; visit a few so mutations spread over the whole message.
                for (var i = 0; i < a.Count; i += a.Count > 8 ? 7 : 1)
                {
                    if (a[i] is JsonObject or JsonArray)
                    {
                        Collect(a[i]!, path + "/" + i, into);
                    }
                }

                break;
        }
    }

    private static JsonNode? RandomValue(JsonNode? current, Random random)
    {
        var text = current is JsonValue v && v.TryGetValue<string>(out var s) ? s : "";
        return random.Next(16) switch
        {
            0 => null,
            1 => 30,
            2 => 1.5,
            3 => true,
            4 => new JsonObject(),
            5 => new JsonArray(),
            6 => "",
            7 => text + "1",
            8 => text.Length > 0 ? text[..^1] : "A",
            9 => text.ToLowerInvariant(),
            10 => new string('9', text.Length),
            11 => "A",
            12 => "E1",
            13 => "2025-01-15T00:00:00+00:00",
            14 => "0.125",
            _ => "2000000001",
        };
    }
}
