using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Schemas;

namespace Halfhour.Market.Tests.Schemas;

public class NumeralPatternTests
{
    private static readonly string[] s_patterns = InterfaceCatalogue.Specification.Types.Values
        .Where(t => t.PatternText is not null).Select(t => t.PatternText!).Distinct().ToArray();

    [Fact]
    public void Most_of_the_specifications_patterns_are_numerals_and_the_rest_are_left_to_the_regex_engine()
    {
        var numerals = s_patterns.Where(p => NumeralPattern.TryCreate(p) is not null).ToList();
        Assert.True(numerals.Count >= 10, string.Join(" ", numerals));
        Assert.Null(NumeralPattern.TryCreate(@"^[A-Z]{4}$"));
        Assert.Null(NumeralPattern.TryCreate(@"^S-((IF|REP)-)?\d{3}[A-B]?-[0-9a-fA-F]{10}-[A-Z]{3,5}-\d{8}-[a-zA-Z0-9]+$"));
    }

    [Fact]
    public void A_numeral_shape_matches_exactly_the_strings_its_ECMA_pattern_matches()
    {
        var alphabet = "0123456789.-+ a\n٣"; // includes a non-ASCII digit and a trailing newline
        var numerals = s_patterns.Select(p => (Pattern: p, Shape: NumeralPattern.TryCreate(p), Regex: new Regex(CatalogueReader.ToDotNet(p))))
            .Where(x => x.Shape is not null).ToArray();
        Gen.Select(Gen.Int[0, numerals.Length - 1], Gen.Char[alphabet].Array[0, 20], Gen.Int[0, 12], Gen.Int[0, 4]).Sample((index, noise, whole, fraction) =>
        {
            var (pattern, shape, regex) = numerals[index];
            // Half the samples are near misses of a real numeral, half are noise.
            var text = noise.Length % 2 == 0 ? new string('7', whole) + (fraction > 0 ? "." + new string('1', fraction) : "") : new string(noise);
            Assert.True(regex.IsMatch(text) == shape!.IsMatch(Encoding.UTF8.GetBytes(text)), $"{pattern} on \"{text}\"");
        }, iter: 20_000);
    }
}
