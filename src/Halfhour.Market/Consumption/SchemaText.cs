using System.Text;
using System.Text.Unicode;

namespace Halfhour.Market.Consumption;

/// <summary>The string checks of the IF-021 schema written as byte loops: lengths in code points, enums and patterns.</summary>
internal static class SchemaText
{
    /// <summary>True when the raw (possibly escaped) bytes of a JSON string are valid UTF-8.</summary>
    public static bool IsWellFormed(ReadOnlySpan<byte> raw) => Ascii.IsValid(raw) || Utf8.IsValid(raw);

    /// <summary>
    /// The length in Unicode code points, as JSON Schema's minLength/maxLength count it, of a string given by its raw
    /// bytes; escapes count as the one code point they stand for (a surrogate pair escape as one).
    /// </summary>
    public static int CodePoints(ReadOnlySpan<byte> raw, bool escaped)
    {
        if (!escaped)
        {
            if (Ascii.IsValid(raw))
            {
                return raw.Length;
            }

            var count = 0;
            foreach (var b in raw)
            {
                if ((b & 0xC0) != 0x80)
                {
                    count++;
                }
            }

            return count;
        }

        var points = 0;
        var i = 0;
        while (i < raw.Length)
        {
            var b = raw[i];
            if (b != (byte)'\\')
            {
                i++;
                if ((b & 0xC0) != 0x80)
                {
                    points++;
                }

                continue;
            }

            points++;
            if (raw[i + 1] != (byte)'u')
            {
                i += 2;
                continue;
            }

            // A high surrogate escape followed by a low surrogate escape is one code point written as twelve bytes.
            var isPair = i + 12 <= raw.Length && IsHighSurrogateEscape(raw.Slice(i, 6)) && raw[i + 6] == (byte)'\\' && raw[i + 7] == (byte)'u';
            i += isPair ? 12 : 6;
        }

        return points;
    }

    /// <summary>The DT-016 pattern <c>^-?\d{1,9}\.\d{3}$</c>: an optional minus, one to nine digits, a point, three digits.</summary>
    public static bool IsDecimal9Dot3(ReadOnlySpan<byte> s)
    {
        var i = s.Length > 0 && s[0] == (byte)'-' ? 1 : 0;
        var point = s.Length - 4;
        var integerDigits = point - i;
        if (integerDigits is < 1 or > 9 || s[point] != (byte)'.')
        {
            return false;
        }

        for (var k = i; k < s.Length; k++)
        {
            if (k != point && !char.IsAsciiDigit((char)s[k]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The DT-002 pattern: exactly thirteen ASCII digits.</summary>
    public static bool IsThirteenDigits(ReadOnlySpan<byte> s) => s.Length == 13 && AllDigits(s);

    /// <summary>
    /// The DT-995 pattern <c>^S-((IF|REP)-)?\d{3}[A-B]?-[0-9a-fA-F]{10}-[A-Z]{3,5}-\d{8}-[a-zA-Z0-9]+$</c>:
    /// S-, an optional IF-/REP-, the interface number (optionally A or B), the sender's DIP ID in hex, its role,
    /// a date, and the sender's own reference.
    /// </summary>
    public static bool IsSenderUniqueReference(ReadOnlySpan<byte> s)
    {
        if (!s.StartsWith("S-"u8))
        {
            return false;
        }

        s = s[2..];
        if (s.StartsWith("IF-"u8))
        {
            s = s[3..];
        }
        else if (s.StartsWith("REP-"u8))
        {
            s = s[4..];
        }

        if (s.Length < 3 || !AllDigits(s[..3]))
        {
            return false;
        }

        s = s[3..];
        if (s.Length > 0 && s[0] is (byte)'A' or (byte)'B')
        {
            s = s[1..];
        }

        if (s.Length < 12 || s[0] != (byte)'-' || s[11] != (byte)'-' || !AllHex(s.Slice(1, 10)))
        {
            return false;
        }

        s = s[12..];
        var letters = 0;
        while (letters < s.Length && char.IsAsciiLetterUpper((char)s[letters]))
        {
            letters++;
        }

        if (letters is < 3 or > 5 || s.Length < letters + 1 || s[letters] != (byte)'-')
        {
            return false;
        }

        s = s[(letters + 1)..];
        if (s.Length < 10 || !AllDigits(s[..8]) || s[8] != (byte)'-')
        {
            return false;
        }

        s = s[9..];
        if (s.IsEmpty)
        {
            return false;
        }

        foreach (var b in s)
        {
            if (!char.IsAsciiLetterOrDigit((char)b))
            {
                return false;
            }
        }

        return true;
    }

    // A property name longer than this is shown cut, ending in "…": a hostile name must not make a hostile result.
    private const int MaxPointerNameBytes = 200;

    /// <summary>A JSON pointer reference token for a property name (RFC 6901: <c>~</c> as <c>~0</c>, <c>/</c> as <c>~1</c>), cut when huge.</summary>
    public static string PointerToken(ReadOnlySpan<byte> utf8Name)
    {
        var name = utf8Name.Length > MaxPointerNameBytes ? Encoding.UTF8.GetString(utf8Name[..MaxPointerNameBytes]) + "…" : Encoding.UTF8.GetString(utf8Name);
        return name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
    }

    private static bool AllDigits(ReadOnlySpan<byte> s)
    {
        foreach (var b in s)
        {
            if (!char.IsAsciiDigit((char)b))
            {
                return false;
            }
        }

        return true;
    }

    private static bool AllHex(ReadOnlySpan<byte> s)
    {
        foreach (var b in s)
        {
            if (!char.IsAsciiHexDigit((char)b))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsHighSurrogateEscape(ReadOnlySpan<byte> sixBytes) =>
        sixBytes[2] is (byte)'d' or (byte)'D' && sixBytes[3] is (byte)'8' or (byte)'9' or (byte)'a' or (byte)'A' or (byte)'b' or (byte)'B';
}
