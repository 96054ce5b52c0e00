using System.Text.Json;
using Halfhour.Market.Catalogue;
using Halfhour.Market.TestData;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Validation;

public class ValidationCostTests
{
    /// <summary>
    /// What validating a valid message may allocate: the fact strings the backbone keeps (unique reference,
    /// timestamp, DIP IDs, MPAN, GSP group, correlation ID, recipients) and nothing per field of the payload.
    /// </summary>
    private const long FactsBudgetBytes = 1024;

    [Fact]
    public void Validating_a_valid_message_allocates_no_more_than_the_facts_it_keeps()
    {
        var validator = new MessageValidator();
        var facts = new MessageFacts();
        var generator = new MessageGenerator();
        foreach (var variant in InterfaceCatalogue.Specification.Variants)
        {
            var message = generator.GenerateUtf8(variant, 1);
            validator.Validate(message, facts); // warm the per-thread scratch
            var before = GC.GetAllocatedBytesForCurrentThread();
            var result = validator.Validate(message, facts);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(result.IsValid);
            Assert.True(allocated <= FactsBudgetBytes, $"{variant}: {allocated} bytes for a {message.Length}-byte message");
        }
    }

    [Fact]
    public void The_deepest_legitimate_message_stays_well_inside_the_depth_limit()
    {
        var generator = new MessageGenerator();
        var deepest = 0;
        foreach (var variant in InterfaceCatalogue.Specification.Variants)
        {
            var reader = new Utf8JsonReader(generator.GenerateUtf8(variant, 1));
            while (reader.Read())
            {
                deepest = Math.Max(deepest, reader.CurrentDepth + 1);
            }
        }

        Assert.InRange(deepest, 6, ValidationLimits.Default.MaxDepth / 2);
    }
}
