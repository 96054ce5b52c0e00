using System.Text;
using Halfhour.Market.Tests.Reference;
using Halfhour.Market.TestData;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Validation;

/// <summary>
/// The honesty check of the catalogue's own form: for generated valid messages and a sample of single-rule
/// breaks of every variant, the product's verdict on the schema agrees with JsonSchema.Net evaluating the
/// specification's own schema. Market-rule breaks (MSG1002) are schema-valid, so the specification must accept them.
/// </summary>
public class SpecificationAgreementTests
{
    /// <summary>Breaks sampled per variant: one of each kind present, so the run stays a few seconds.</summary>
    private const int SampledKindsPerVariant = 16;

    private static readonly MessageValidator s_validator = new();
    private static readonly MessageGenerator s_generator = new();

    [Theory]
    [ClassData(typeof(EveryVariant))]
    public void The_validator_and_the_specifications_own_schema_agree_on_valid_and_broken_messages(string interfaceId, string eventCode)
    {
        var variant = EveryVariant.Find(interfaceId, eventCode);
        var valid = s_generator.Generate(variant, seed: 11);
        var disagreements = new List<string>();
        Check(MessageGenerator.ToUtf8(valid), "valid", disagreements);

        var random = new Random(interfaceId.GetHashCode(StringComparison.Ordinal) ^ eventCode.Length);
        var byKind = MessageMutator.All(variant, valid).GroupBy(m => m.Kind).Take(SampledKindsPerVariant);
        foreach (var kind in byKind)
        {
            var sites = kind.ToList();
            var mutation = sites[random.Next(sites.Count)];
            Check(mutation.Message, mutation.ToString(), disagreements);
        }

        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
    }

    private static void Check(byte[] message, string what, List<string> disagreements)
    {
        var ours = s_validator.Validate(message, new MessageFacts());
        var oursSchemaValid = ours.IsValid || ours.Code == MessageCode.SemanticFailure;
        var theirs = SpecificationSchema.Accepts(message);
        if (oursSchemaValid != theirs)
        {
            disagreements.Add($"{what}: ours {ours}, specification says {(theirs ? "valid" : "invalid")}\n{Encoding.UTF8.GetString(message)}");
        }
    }
}
