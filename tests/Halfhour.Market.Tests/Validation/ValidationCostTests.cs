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

            // The least of five: a one-off growth of a shared cache (or the runtime's own work on this thread) is not
            // a per-message cost; a per-message allocation shows in every one of them.
            var allocated = long.MaxValue;
            for (var i = 0; i < 5; i++)
            {
                var before = GC.GetAllocatedBytesForCurrentThread();
                var result = validator.Validate(message, facts);
                allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
                Assert.True(result.IsValid);
            }

            Assert.True(allocated <= FactsBudgetBytes, $"{variant}: {allocated} bytes for a {message.Length}-byte message");
        }
    }

    [Fact]
    public void One_validator_serves_many_threads_and_each_message_gets_its_own_verdict()
    {
        var validator = new MessageValidator();
        var generator = new MessageGenerator();
        var cases = InterfaceCatalogue.Specification.Variants
            .SelectMany(v => MessageMutator.All(v, generator.Generate(v, 3)).Take(3).Select(m => (m.Message, m.ExpectedCode, (string?)m.Pointer))
                .Prepend((generator.GenerateUtf8(v, 3), MessageCode.Success, (string?)null)))
            .ToArray();
        var wrong = 0;
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, worker =>
        {
            var facts = new MessageFacts();
            for (var i = worker; i < cases.Length * 4; i += 8)
            {
                var (message, code, pointer) = cases[i % cases.Length];
                var result = validator.Validate(message, facts);
                if (result.Code != code || result.Pointer != pointer)
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        });
        Assert.Equal(0, wrong);
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
