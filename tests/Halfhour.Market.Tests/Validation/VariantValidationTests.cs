using System.Text;
using Halfhour.Market.TestData;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Validation;

public class VariantValidationTests
{
    private static readonly MessageValidator s_validator = new();
    private static readonly MessageGenerator s_generator = new();

    [Theory]
    [ClassData(typeof(EveryVariant))]
    public void A_generated_message_of_every_variant_and_schema_version_is_accepted(string interfaceId, string eventCode)
    {
        var variant = EveryVariant.Find(interfaceId, eventCode);
        foreach (var version in variant.Event.SchemaVersions)
        {
            for (var seed = 0; seed < 3; seed++)
            {
                var message = s_generator.GenerateUtf8(variant, seed, version);
                var facts = new MessageFacts();
                var result = s_validator.Validate(message, facts);
                Assert.True(result.IsValid, $"{result}\n{Encoding.UTF8.GetString(message)}");
                Assert.Equal(interfaceId, facts.InterfaceId);
                Assert.Equal(eventCode, facts.EventCode);
                Assert.Equal(version, facts.SchemaVersion);
            }
        }
    }

    [Theory]
    [ClassData(typeof(EveryVariant))]
    public void Every_single_rule_break_of_every_variant_is_refused_with_its_code_pointer_and_rule(string interfaceId, string eventCode)
    {
        var variant = EveryVariant.Find(interfaceId, eventCode);
        var valid = s_generator.Generate(variant, seed: 7);
        var facts = new MessageFacts();
        var failures = new List<string>();
        var count = 0;
        foreach (var mutation in MessageMutator.All(variant, valid))
        {
            count++;
            var result = s_validator.Validate(mutation.Message, facts);
            if (result.Code != mutation.ExpectedCode || result.Pointer != mutation.Pointer || result.Rule != mutation.ExpectedRule)
            {
                failures.Add($"{mutation}: expected {mutation.ExpectedCode} {mutation.ExpectedRule}, got {result}");
            }
        }

        Assert.True(count > 10, $"only {count} mutations");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(15)) + $"\n({failures.Count} of {count})");
    }
}
