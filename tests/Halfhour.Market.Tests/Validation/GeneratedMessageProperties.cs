using CsCheck;
using Halfhour.Market.Catalogue;
using Halfhour.Market.TestData;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Validation;

/// <summary>Properties over random seeds: the variant theories use fixed seeds, these roam.</summary>
public class GeneratedMessageProperties
{
    /// <summary>Samples per property: enough to vary every variant's values a couple of times, quick enough for the default run.</summary>
    private const long Samples = 400;

    private static readonly IReadOnlyList<PayloadVariant> s_variants = InterfaceCatalogue.Specification.Variants;
    private static readonly MessageGenerator s_generator = new();
    private static readonly MessageValidator s_validator = new();

    [Fact]
    public void A_message_generated_from_any_seed_is_accepted_and_its_facts_name_its_variant()
    {
        Gen.Select(Gen.Int[0, s_variants.Count - 1], Gen.Int).Sample((index, seed) =>
        {
            var variant = s_variants[index];
            var facts = new MessageFacts();
            var result = s_validator.Validate(s_generator.GenerateUtf8(variant, seed), facts);
            Assert.True(result.IsValid, $"{variant} seed {seed}: {result}");
            Assert.Equal(variant.InterfaceId, facts.InterfaceId);
            Assert.Equal(variant.EventCode, facts.EventCode);
        }, iter: Samples);
    }

    [Fact]
    public void Any_single_rule_break_from_any_seed_is_refused_with_its_code_pointer_and_rule()
    {
        Gen.Select(Gen.Int[0, s_variants.Count - 1], Gen.Int, Gen.Int[0, int.MaxValue]).Sample((index, seed, pick) =>
        {
            var variant = s_variants[index];
            var mutations = MessageMutator.All(variant, s_generator.Generate(variant, seed)).ToList();
            var mutation = mutations[pick % mutations.Count];
            var result = s_validator.Validate(mutation.Message, new MessageFacts());
            Assert.True(
                result.Code == mutation.ExpectedCode && result.Pointer == mutation.Pointer && result.Rule == mutation.ExpectedRule,
                $"{variant} seed {seed} {mutation}: expected {mutation.ExpectedCode} {mutation.ExpectedRule}, got {result}");
        }, iter: Samples);
    }
}
