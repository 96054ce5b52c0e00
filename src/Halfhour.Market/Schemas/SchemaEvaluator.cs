using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Halfhour.Market.Rules;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Schemas;

/// <summary>
/// Evaluates one message against a <see cref="SchemaNode"/> in a single forward pass over
/// <see cref="Utf8JsonReader"/>: no document is built and nothing is allocated unless the message fails.
/// The first schema failure in document order ends the pass (MSG1001); the first market-rule failure
/// (MSG1002) is remembered and reported only when the whole message matches its schema, so a schema
/// failure always wins. Keywords apply to the JSON types they are defined for, as JSON Schema says: an
/// untyped schema admits any value, and object keywords are checked only when the value is an object.
/// OpenAPI 3.0 <c>nullable: true</c> admits null before any other keyword is looked at: the
/// specification marks enumerated types nullable (e.g. DI-137) without listing null among their values,
/// and its intent, null for "not known", is what participants send.
/// One evaluator per thread (<see cref="ForThisThread"/>); its scratch buffers grow to the largest string seen.
/// </summary>
internal sealed class SchemaEvaluator
{
    /// <summary>Strings shown in failure sentences are cut to this many characters: enough to recognise, short enough to log.</summary>
    private const int ShownValueLength = 40;

    /// <summary>Enumerations longer than this are summarised in failure sentences rather than listed whole.</summary>
    private const int ShownEnumValues = 12;

    [ThreadStatic]
    private static SchemaEvaluator? t_evaluator;

    private readonly PathSegment[] _path = new PathSegment[ValidationLimits.DepthCeiling + 2];
    private int _depth;
    private byte[] _bytes = new byte[256];
    private char[] _chars = new char[256];
    private ValidationResult? _semantic;

    /// <summary>The evaluator of the calling thread.</summary>
    public static SchemaEvaluator ForThisThread() => t_evaluator ??= new SchemaEvaluator();

    /// <summary>Evaluates <paramref name="utf8"/>, already known to be well-formed within the depth limit, against <paramref name="root"/>.</summary>
    public ValidationResult Evaluate(ReadOnlySpan<byte> utf8, SchemaNode root)
    {
        _depth = 0;
        _semantic = null;
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = ValidationLimits.DepthCeiling + 2 });
        reader.Read();
        return Value(ref reader, root) ?? _semantic ?? ValidationResult.Valid;
    }

    private ValidationResult? Value(ref Utf8JsonReader r, SchemaNode s)
    {
        var types = s.Types;
        switch (r.TokenType)
        {
            case JsonTokenType.Null:
                return s.Nullable || types == JsonKinds.None ? null : Fail("schema:type", $"must be {s.TypeInWords}, not null");
            case JsonTokenType.String:
                return types is JsonKinds.None or JsonKinds.String ? StringValue(ref r, s) : Fail("schema:type", $"must be {s.TypeInWords}, not a string");
            case JsonTokenType.Number:
                return types is JsonKinds.None or JsonKinds.Number or JsonKinds.Integer ? NumberValue(ref r, s) : Fail("schema:type", $"must be {s.TypeInWords}, not a number");
            case JsonTokenType.True:
            case JsonTokenType.False:
                return types is JsonKinds.None or JsonKinds.Boolean ? null : Fail("schema:type", $"must be {s.TypeInWords}, not true or false");
            case JsonTokenType.StartObject:
                return types is JsonKinds.None or JsonKinds.Object ? ObjectValue(ref r, s) : Fail("schema:type", $"must be {s.TypeInWords}, not an object");
            case JsonTokenType.StartArray:
                return types is JsonKinds.None or JsonKinds.Array ? ArrayValue(ref r, s) : Fail("schema:type", $"must be {s.TypeInWords}, not an array");
            default:
                throw new JsonException($"Unexpected token {r.TokenType}.");
        }
    }

    private ValidationResult? StringValue(ref Utf8JsonReader r, SchemaNode s)
    {
        var value = r.ValueIsEscaped ? Unescape(ref r) : r.ValueSpan;
        if (s.MinLength > 0 || s.MaxLength != int.MaxValue)
        {
            var length = CodePoints(value);
            if (length < s.MinLength || length > s.MaxLength)
            {
                return s.MinLength == s.MaxLength
                    ? Fail(length < s.MinLength ? "schema:minLength" : "schema:maxLength", $"must be exactly {s.MaxLength} characters; got {length}")
                    : length < s.MinLength
                        ? Fail("schema:minLength", $"must be at least {s.MinLength} characters; got {length}")
                        : Fail("schema:maxLength", $"must be at most {s.MaxLength} characters; got {length}");
            }
        }

        if (s.Pattern is not null && !s.Pattern.IsMatch(Chars(value)))
        {
            return Fail("schema:pattern", $"must match {s.PatternText}; got {Shown(value)}");
        }

        if (s.EnumUtf8 is not null && !s.EnumContains(value))
        {
            return Fail("schema:enum", $"must be one of {EnumInWords(s)}; got {Shown(value)}");
        }

        if (s.Rule != SemanticRule.None && _semantic is null)
        {
            _semantic = Semantic(value, s.Rule);
        }

        return null;
    }

    private ValidationResult? Semantic(ReadOnlySpan<byte> value, SemanticRule rule)
    {
        switch (rule)
        {
            case SemanticRule.Mpan when !MpanCore.IsValid(value):
                var expected = Ascii.IsValid(value) && value.Length == MpanCore.Length && IsDigits(value[..^1])
                    ? $" (for {Encoding.ASCII.GetString(value[..^1])} it is {MpanCore.CheckDigit(Encoding.ASCII.GetString(value[..^1]))})"
                    : "";
                return SemanticFail("mpan-check-digit", $"must be an MPAN core whose last digit is its check digit{expected}; got {Shown(value)}");
            case SemanticRule.DateTime when !MarketDateTime.TryParse(value, out _):
                return SemanticFail("date-time", $"must be a real instant written yyyy-MM-ddTHH:mm:ss±hh:mm; got {Shown(value)}");
            case SemanticRule.Date when !IsRealDate(value):
                return SemanticFail("date", $"must be a real calendar day written yyyy-MM-dd; got {Shown(value)}");
            default:
                return null;
        }
    }

    private ValidationResult? NumberValue(ref Utf8JsonReader r, SchemaNode s)
    {
        if (!r.TryGetDecimal(out var number))
        {
            // Beyond decimal's range: no bound in the specification is that large, so any bound is broken.
            if (s.Maximum is not null || s.Minimum is not null)
            {
                return Fail(s.Maximum is not null ? "schema:maximum" : "schema:minimum", $"must be between {s.Minimum} and {s.Maximum}; got a number out of range");
            }

            return r.TryGetDouble(out var wide) && (s.Types != JsonKinds.Integer || Math.Floor(wide) == wide)
                ? null
                : Fail("schema:type", $"must be {s.TypeInWords}; got {Shown(r.ValueSpan)}");
        }

        if (s.Types == JsonKinds.Integer && decimal.Truncate(number) != number)
        {
            return Fail("schema:type", $"must be an integer; got {Shown(r.ValueSpan)}");
        }

        if (number < s.Minimum)
        {
            return Fail("schema:minimum", $"must be at least {s.Minimum}; got {Shown(r.ValueSpan)}");
        }

        if (number > s.Maximum)
        {
            return Fail("schema:maximum", $"must be at most {s.Maximum}; got {Shown(r.ValueSpan)}");
        }

        if (s.MultipleOf is { } step && number % step != 0)
        {
            return Fail("schema:multipleOf", $"must be a multiple of {step}; got {Shown(r.ValueSpan)}");
        }

        return null;
    }

    private ValidationResult? ObjectValue(ref Utf8JsonReader r, SchemaNode s)
    {
        ulong seen = 0;
        List<string>? otherNames = null;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            var name = r.ValueIsEscaped ? Unescape(ref r) : r.ValueSpan;
            var index = s.IndexOf(name);
            if (index < 0)
            {
                var text = Encoding.UTF8.GetString(name);
                Push(text);
                if (s.Closed)
                {
                    return Fail("schema:additionalProperties", $"is not a field of {Where(s)}; remove it (unknown fields are refused)");
                }

                otherNames ??= [];
                if (otherNames.Contains(text))
                {
                    return Duplicate();
                }

                otherNames.Add(text);
                r.Read();
                r.Skip();
                _depth--;
                continue;
            }

            var property = s.Properties[index];
            Push(property.Name);
            var bit = 1UL << index;
            if ((seen & bit) != 0)
            {
                return Duplicate();
            }

            seen |= bit;
            r.Read();
            var failure = Value(ref r, property.Schema);
            if (failure is not null)
            {
                return failure;
            }

            _depth--;
        }

        var missing = s.RequiredMask & ~seen;
        if (missing != 0)
        {
            foreach (var index in s.RequiredOrder)
            {
                if ((missing & (1UL << index)) != 0)
                {
                    Push(s.Properties[index].Name);
                    return Fail("schema:required", $"is required in {Where(s)} but missing");
                }
            }
        }

        return null;
    }

    private ValidationResult? ArrayValue(ref Utf8JsonReader r, SchemaNode s)
    {
        var count = 0;
        while (r.Read() && r.TokenType != JsonTokenType.EndArray)
        {
            if (count == s.MaxItems)
            {
                return Fail("schema:maxItems", $"must have at most {s.MaxItems} items; got more");
            }

            if (s.Items is null)
            {
                r.Skip();
            }
            else
            {
                Push(count);
                var failure = Value(ref r, s.Items);
                if (failure is not null)
                {
                    return failure;
                }

                _depth--;
            }

            count++;
        }

        return count < s.MinItems ? Fail("schema:minItems", $"must have at least {s.MinItems} item{(s.MinItems == 1 ? "" : "s")}; got {count}") : null;
    }

    private void Push(string name) => _path[_depth++] = new PathSegment(name, -1);

    private void Push(int index) => _path[_depth++] = new PathSegment(null, index);

    private ValidationResult Fail(string rule, string what) => Failure(MessageCode.SchemaFailure, rule, what);

    private ValidationResult SemanticFail(string rule, string what) => Failure(MessageCode.SemanticFailure, rule, what);

    private ValidationResult Duplicate() =>
        Failure(MessageCode.MalformedMessage, "json:duplicate-key", "appears twice in one object; a key may appear once, or the message means two things");

    private ValidationResult Failure(MessageCode code, string rule, string what)
    {
        var pointer = Pointer();
        return ValidationResult.Fail(code, pointer, rule, $"{(pointer.Length == 0 ? "The message" : pointer)} {what}");
    }

    private string Where(SchemaNode s) => _depth <= 1 ? "the message" : s.Name ?? Pointer(_depth - 1);

    private string Pointer() => Pointer(_depth);

    private string Pointer(int depth)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < depth; i++)
        {
            builder.Append('/');
            var segment = _path[i];
            if (segment.Name is null)
            {
                builder.Append(segment.Index.ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(segment.Name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal));
            }
        }

        return builder.ToString();
    }

    private ReadOnlySpan<byte> Unescape(ref Utf8JsonReader r)
    {
        if (_bytes.Length < r.ValueSpan.Length)
        {
            _bytes = new byte[Math.Max(r.ValueSpan.Length, _bytes.Length * 2)];
        }

        var written = r.CopyString(_bytes);
        return _bytes.AsSpan(0, written);
    }

    private ReadOnlySpan<char> Chars(ReadOnlySpan<byte> utf8)
    {
        if (_chars.Length < utf8.Length)
        {
            _chars = new char[Math.Max(utf8.Length, _chars.Length * 2)];
        }

        var written = Encoding.UTF8.GetChars(utf8, _chars);
        return _chars.AsSpan(0, written);
    }

    /// <summary>JSON Schema measures strings in Unicode code points: every UTF-8 byte that does not continue a sequence.</summary>
    internal static int CodePoints(ReadOnlySpan<byte> utf8)
    {
        var count = 0;
        foreach (var b in utf8)
        {
            if ((b & 0xC0) != 0x80)
            {
                count++;
            }
        }

        return count;
    }

    private static bool IsDigits(ReadOnlySpan<byte> s)
    {
        foreach (var b in s)
        {
            if ((uint)(b - '0') > 9)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True for <c>yyyy-MM-dd</c> naming a real day of the Gregorian calendar.</summary>
    internal static bool IsRealDate(ReadOnlySpan<byte> s) =>
        s.Length == 10 && s[4] == '-' && s[7] == '-' && IsDigits(s[..4]) && IsDigits(s.Slice(5, 2)) && IsDigits(s.Slice(8, 2)) &&
        Utf8Parser.TryParse(s[..4], out int year, out _) && Utf8Parser.TryParse(s.Slice(5, 2), out int month, out _) &&
        Utf8Parser.TryParse(s.Slice(8, 2), out int day, out _) &&
        year >= 1 && month is >= 1 and <= 12 && day >= 1 && day <= DateTime.DaysInMonth(year, month);

    private static string Shown(ReadOnlySpan<byte> utf8)
    {
        var text = Encoding.UTF8.GetString(utf8);
        return text.Length <= ShownValueLength ? $"\"{text}\"" : $"\"{text[..ShownValueLength]}…\" ({CodePoints(utf8)} characters)";
    }

    private static string EnumInWords(SchemaNode s)
    {
        var values = s.EnumText!;
        return values.Length <= ShownEnumValues
            ? string.Join(", ", values)
            : string.Join(", ", values[..ShownEnumValues]) + $" … ({values.Length} values)";
    }

    private readonly record struct PathSegment(string? Name, int Index);
}
