using System.Globalization;
using System.Text.RegularExpressions;

namespace Halfhour.Market.Schemas;

/// <summary>
/// The family of patterns most of the specification's are (<c>^-?\d{1,9}\.\d{3}$</c>, <c>^\d{13}?$</c>,
/// <c>^\d{1,2}$</c> …): an optional minus, a run of digits within bounds, and optionally a point with an
/// exact number of digits. Matched on the UTF-8 bytes directly, which is exact for these patterns and
/// spares the regular-expression engine on the fields every consumption period carries.
/// </summary>
internal sealed partial class NumeralPattern
{
    private readonly bool _signed;
    private readonly int _fewestDigits;
    private readonly int _mostDigits;
    private readonly int _fractionDigits;

    private NumeralPattern(bool signed, int fewestDigits, int mostDigits, int fractionDigits)
    {
        _signed = signed;
        _fewestDigits = fewestDigits;
        _mostDigits = mostDigits;
        _fractionDigits = fractionDigits;
    }

    /// <summary>The numeral shape of <paramref name="pattern"/>, or null when it is not of the family.</summary>
    public static NumeralPattern? TryCreate(string pattern)
    {
        var match = Shape().Match(pattern);
        if (!match.Success)
        {
            return null;
        }

        var fewest = int.Parse(match.Groups["fewest"].Value, CultureInfo.InvariantCulture);
        var most = match.Groups["most"].Success ? int.Parse(match.Groups["most"].Value, CultureInfo.InvariantCulture) : fewest;
        var fraction = match.Groups["fraction"].Success ? int.Parse(match.Groups["fraction"].Value, CultureInfo.InvariantCulture) : 0;
        return new NumeralPattern(match.Groups["sign"].Success, fewest, most, fraction);
    }

    /// <summary>True when <paramref name="utf8"/> is, in full, a numeral of this shape.</summary>
    public bool IsMatch(ReadOnlySpan<byte> utf8)
    {
        var i = 0;
        if (_signed && utf8.Length > 0 && utf8[0] == '-')
        {
            i = 1;
        }

        var start = i;
        while (i < utf8.Length && (uint)(utf8[i] - '0') <= 9)
        {
            i++;
        }

        var digits = i - start;
        if (digits < _fewestDigits || digits > _mostDigits)
        {
            return false;
        }

        if (_fractionDigits == 0)
        {
            return i == utf8.Length;
        }

        if (i >= utf8.Length || utf8[i] != '.' || utf8.Length - i - 1 != _fractionDigits)
        {
            return false;
        }

        for (i++; i < utf8.Length; i++)
        {
            if ((uint)(utf8[i] - '0') > 9)
            {
                return false;
            }
        }

        return true;
    }

    // ^ -? \d{n} or \d{n,m}, optionally lazy, then optionally \.\d{f}, then $
    [GeneratedRegex(@"^\^(?<sign>-\?)?\\d\{(?<fewest>\d+)(,(?<most>\d+))?\}\??(\\\.\\d\{(?<fraction>\d+)\})?\$$", RegexOptions.CultureInvariant)]
    private static partial Regex Shape();
}
