using System.Text;

namespace Halfhour.Market.TestData;

/// <summary>
/// Chooses strings that match a regular expression of the subset the specification uses: anchors,
/// literals and escapes, <c>\d</c>, character classes with ranges, groups with alternation, and the
/// quantifiers <c>? * + {n} {n,} {n,m}</c> (lazy or not). Deterministic for a given <see cref="Random"/>.
/// </summary>
public static class PatternValues
{
    /// <summary>How many repetitions an unbounded quantifier (<c>+</c>, <c>*</c>, <c>{n,}</c>) adds at most: short values, still varied.</summary>
    private const int UnboundedExtra = 6;

    /// <summary>A string matching <paramref name="pattern"/>.</summary>
    public static string Choose(string pattern, Random random)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(random);
        var position = 0;
        var builder = new StringBuilder();
        Alternation(pattern, ref position, random, builder);
        if (position != pattern.Length)
        {
            throw new NotSupportedException($"Pattern '{pattern}' is beyond the subset PatternValues understands (stopped at {position}).");
        }

        return builder.ToString();
    }

    private static void Alternation(string p, ref int i, Random random, StringBuilder output)
    {
        // Parse every branch (to move past them), emit one chosen at random.
        var branches = new List<StringBuilder>();
        while (true)
        {
            var branch = new StringBuilder();
            Sequence(p, ref i, random, branch);
            branches.Add(branch);
            if (i < p.Length && p[i] == '|')
            {
                i++;
                continue;
            }

            break;
        }

        output.Append(branches[random.Next(branches.Count)]);
    }

    private static void Sequence(string p, ref int i, Random random, StringBuilder output)
    {
        while (i < p.Length && p[i] != '|' && p[i] != ')')
        {
            if (p[i] is '^' or '$')
            {
                i++;
                continue;
            }

            var start = i;
            Atom(p, ref i, random, new StringBuilder()); // moves past the atom; its repetitions are drawn below
            var (min, max) = Quantifier(p, ref i);
            var count = min + random.Next(max - min + 1);
            for (var n = 0; n < count; n++)
            {
                var j = start;
                Atom(p, ref j, random, output);
            }
        }
    }

    private static void Atom(string p, ref int i, Random random, StringBuilder output)
    {
        var c = p[i];
        switch (c)
        {
            case '(':
                i++;
                if (i + 1 < p.Length && p[i] == '?' && p[i + 1] == ':')
                {
                    i += 2;
                }

                Alternation(p, ref i, random, output);
                if (i >= p.Length || p[i] != ')')
                {
                    throw new NotSupportedException($"Unclosed group in '{p}'.");
                }

                i++;
                break;
            case '[':
                i++;
                var choices = new List<char>();
                while (p[i] != ']')
                {
                    var from = p[i] == '\\' ? Escaped(p[++i]) : p[i];
                    i++;
                    if (p[i] == '-' && p[i + 1] != ']')
                    {
                        var to = p[i + 1];
                        for (var x = from; x <= to; x++)
                        {
                            choices.Add(x);
                        }

                        i += 2;
                    }
                    else
                    {
                        choices.Add(from);
                    }
                }

                i++;
                output.Append(choices[random.Next(choices.Count)]);
                break;
            case '\\':
                var escaped = p[i + 1];
                i += 2;
                output.Append(escaped == 'd' ? (char)('0' + random.Next(10)) : Escaped(escaped));
                break;
            case '.':
                i++;
                output.Append((char)('a' + random.Next(26)));
                break;
            default:
                i++;
                output.Append(c);
                break;
        }
    }

    private static char Escaped(char c) => c switch
    {
        'd' => '0',
        _ => c,
    };

    private static (int Min, int Max) Quantifier(string p, ref int i)
    {
        if (i >= p.Length)
        {
            return (1, 1);
        }

        (int, int) bounds;
        switch (p[i])
        {
            case '?':
                i++;
                bounds = (0, 1);
                break;
            case '*':
                i++;
                bounds = (0, UnboundedExtra);
                break;
            case '+':
                i++;
                bounds = (1, 1 + UnboundedExtra);
                break;
            case '{':
                var close = p.IndexOf('}', i);
                var body = p[(i + 1)..close].Split(',');
                var min = int.Parse(body[0], System.Globalization.CultureInfo.InvariantCulture);
                var max = body.Length == 1 ? min
                    : body[1].Length == 0 ? min + UnboundedExtra
                    : int.Parse(body[1], System.Globalization.CultureInfo.InvariantCulture);
                i = close + 1;
                bounds = (min, max);
                break;
            default:
                return (1, 1);
        }

        if (i < p.Length && p[i] == '?')
        {
            i++; // lazy: same language
        }

        return bounds;
    }
}
