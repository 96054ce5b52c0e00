using System.Globalization;
using System.Text.Json.Nodes;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Schemas;
using Halfhour.Market.Validation;

namespace Halfhour.Market.TestData;

/// <summary>One way of breaking a valid message, one rule at a time.</summary>
public enum MutationKind
{
    /// <summary>A required field removed.</summary>
    MissingRequired,
    /// <summary>A value of the wrong JSON type (a number for a string, a string for an object …).</summary>
    WrongType,
    /// <summary>null where the schema does not allow it.</summary>
    NullNotAllowed,
    /// <summary>A string one character longer than its maximum.</summary>
    TooLong,
    /// <summary>A string one character shorter than its minimum.</summary>
    TooShort,
    /// <summary>A string of a valid length that breaks its pattern.</summary>
    PatternBreak,
    /// <summary>A string that is none of its enumeration's values.</summary>
    EnumBreak,
    /// <summary>A field the schema does not define, in an object that refuses unknown fields.</summary>
    UnknownField,
    /// <summary>A number below its minimum.</summary>
    BelowMinimum,
    /// <summary>A number above its maximum.</summary>
    AboveMaximum,
    /// <summary>A fraction where an integer is required.</summary>
    NotInteger,
    /// <summary>An array with fewer items than its minimum.</summary>
    TooFewItems,
    /// <summary>An array with more items than its maximum.</summary>
    TooManyItems,
    /// <summary>An MPAN core with a wrong check digit.</summary>
    BadMpanCheckDigit,
    /// <summary>A well-formed date-time naming no real instant (30 February).</summary>
    BadDateTime,
    /// <summary>A well-formed date naming no real day (30 February).</summary>
    BadDate,
}

/// <summary>A broken message and what the validator must say about it.</summary>
/// <param name="Kind">How it was broken.</param>
/// <param name="Pointer">The JSON pointer of the broken field.</param>
/// <param name="ExpectedCode">The result code the validator must give.</param>
/// <param name="ExpectedRule">The rule the validator must name.</param>
/// <param name="Message">The broken message, UTF-8 JSON.</param>
public sealed record Mutation(MutationKind Kind, string Pointer, MessageCode ExpectedCode, string ExpectedRule, byte[] Message)
{
    /// <summary>True when the break is of a market rule, which the schema alone does not see.</summary>
    public bool IsSemantic => ExpectedCode == MessageCode.SemanticFailure;

    /// <inheritdoc />
    public override string ToString() => $"{Kind} at {Pointer}";
}

/// <summary>
/// Derives invalid messages from a valid one, one rule broken at a time, at every field where the rule
/// applies, each with the code, pointer and rule the validator must report. S0 (dispatch) is left alone:
/// its failures are catalogue outcomes, tested on their own.
/// </summary>
public static class MessageMutator
{
    /// <summary>The name of the field <see cref="MutationKind.UnknownField"/> adds: plainly not of the specification.</summary>
    public const string UnknownFieldName = "notInTheSpecification";

    /// <summary>Arrays with a larger maximum are not overfilled: the message would be huge to prove one rule.</summary>
    private const int LargestOverfill = 250;

    /// <summary>Every single-rule mutation of <paramref name="valid"/>, a message of <paramref name="variant"/>.</summary>
    public static IEnumerable<Mutation> All(PayloadVariant variant, JsonObject valid)
    {
        ArgumentNullException.ThrowIfNull(variant);
        ArgumentNullException.ThrowIfNull(valid);
        var sites = new List<Site>();
        Walk(variant.Payload, valid["payload"], "/payload", sites);
        foreach (var site in sites)
        {
            var copy = (JsonObject)valid.DeepClone();
            site.Apply(copy);
            yield return new Mutation(site.Kind, site.Pointer, site.Code, site.Rule, MessageGenerator.ToUtf8(copy));
        }
    }

    private static void Walk(SchemaNode s, JsonNode? value, string pointer, List<Site> sites)
    {
        if (value is null)
        {
            return;
        }

        switch (value)
        {
            case JsonObject obj:
                // The payload itself not being an object is an envelope failure (MSG1003), tested on its own.
                if (s.Types == JsonKinds.Object && pointer != "/payload")
                {
                    sites.Add(Replace(MutationKind.WrongType, pointer, "schema:type", () => "not an object"));
                    Null(s, pointer, sites);
                }

                if (s.Closed)
                {
                    sites.Add(new Site(MutationKind.UnknownField, pointer + "/" + UnknownFieldName, MessageCode.SchemaFailure, "schema:additionalProperties",
                        root => ((JsonObject)Find(root, pointer)!)[UnknownFieldName] = "x"));
                }

                foreach (var property in s.Properties)
                {
                    if (!obj.TryGetPropertyValue(property.Name, out var child))
                    {
                        continue;
                    }

                    var childPointer = pointer + "/" + property.Name;
                    if (property.Required)
                    {
                        var name = property.Name;
                        sites.Add(new Site(MutationKind.MissingRequired, childPointer, MessageCode.SchemaFailure, "schema:required",
                            root => ((JsonObject)Find(root, pointer)!).Remove(name)));
                    }

                    if (property.Name != "S0")
                    {
                        Walk(property.Schema, child, childPointer, sites);
                    }
                    else
                    {
                        Null(property.Schema, childPointer, sites);
                        sites.Add(Replace(MutationKind.WrongType, childPointer, "schema:type", () => "not an object"));
                    }
                }

                return;
            case JsonArray array:
                sites.Add(Replace(MutationKind.WrongType, pointer, "schema:type", () => "not an array"));
                if (s.MinItems > 0)
                {
                    sites.Add(Replace(MutationKind.TooFewItems, pointer, "schema:minItems", () => new JsonArray()));
                }

                if (s.MaxItems <= LargestOverfill && array.Count > 0)
                {
                    var item = array[0];
                    var max = s.MaxItems;
                    sites.Add(Replace(MutationKind.TooManyItems, pointer, "schema:maxItems", () =>
                    {
                        var full = new JsonArray();
                        for (var i = 0; i <= max; i++)
                        {
                            full.Add(item?.DeepClone());
                        }

                        return full;
                    }));
                }

                Null(s, pointer, sites);
                if (array.Count > 0 && s.Items is not null)
                {
                    Walk(s.Items, array[0], pointer + "/0", sites);
                }

                return;
        }

        Null(s, pointer, sites);
        var leaf = value.AsValue();
        if (s.Types == JsonKinds.String && leaf.TryGetValue<string>(out var text))
        {
            StringSites(s, text, pointer, sites);
        }
        else if (s.Types is JsonKinds.Integer or JsonKinds.Number)
        {
            NumberSites(s, pointer, sites);
        }
        else if (s.Types == JsonKinds.Boolean)
        {
            sites.Add(Replace(MutationKind.WrongType, pointer, "schema:type", () => "true"));
        }
    }

    private static void Null(SchemaNode s, string pointer, List<Site> sites)
    {
        if (!s.Nullable && s.Types != JsonKinds.None)
        {
            sites.Add(Replace(MutationKind.NullNotAllowed, pointer, "schema:type", () => null));
        }
    }

    private static void StringSites(SchemaNode s, string text, string pointer, List<Site> sites)
    {
        sites.Add(Replace(MutationKind.WrongType, pointer, "schema:type", () => 12345));
        if (s.MaxLength < int.MaxValue)
        {
            sites.Add(Replace(MutationKind.TooLong, pointer, "schema:maxLength", () => new string('7', s.MaxLength + 1)));
        }

        if (s.MinLength > 0)
        {
            sites.Add(Replace(MutationKind.TooShort, pointer, "schema:minLength", () => new string('7', s.MinLength - 1)));
        }

        if (s.Pattern is not null)
        {
            var broken = "#" + text[1..];
            if (!s.Pattern.IsMatch(broken) && (s.EnumText is null))
            {
                sites.Add(Replace(MutationKind.PatternBreak, pointer, "schema:pattern", () => broken));
            }
        }

        if (s.EnumText is not null && s.Pattern is null)
        {
            var outside = OutsideEnum(s, text);
            if (outside is not null)
            {
                sites.Add(Replace(MutationKind.EnumBreak, pointer, "schema:enum", () => outside));
            }
        }

        switch (s.Rule)
        {
            case SemanticRule.Mpan:
                var wrong = (char)('0' + (text[^1] - '0' + 1) % 10);
                sites.Add(Replace(MutationKind.BadMpanCheckDigit, pointer, "mpan-check-digit", () => text[..^1] + wrong, MessageCode.SemanticFailure));
                break;
            case SemanticRule.DateTime:
                sites.Add(Replace(MutationKind.BadDateTime, pointer, "date-time", () => "2025-02-30T10:00:00+00:00", MessageCode.SemanticFailure));
                break;
            case SemanticRule.Date:
                sites.Add(Replace(MutationKind.BadDate, pointer, "date", () => "2025-02-30", MessageCode.SemanticFailure));
                break;
        }
    }

    /// <summary>A value of a valid length that is none of the enumeration's values: the current one with its last character changed.</summary>
    private static string? OutsideEnum(SchemaNode s, string text)
    {
        foreach (var replacement in "~#Q9")
        {
            var candidate = text[..^1] + replacement;
            if (Array.IndexOf(s.EnumText!, candidate) < 0 && SchemaEvaluator.CodePoints(System.Text.Encoding.UTF8.GetBytes(candidate)) >= s.MinLength)
            {
                return candidate;
            }
        }

        return null;
    }

    private static void NumberSites(SchemaNode s, string pointer, List<Site> sites)
    {
        sites.Add(Replace(MutationKind.WrongType, pointer, "schema:type", () => "12"));
        if (s.Minimum is { } min)
        {
            sites.Add(Replace(MutationKind.BelowMinimum, pointer, "schema:minimum", () => min - 1));
        }

        if (s.Maximum is { } max)
        {
            sites.Add(Replace(MutationKind.AboveMaximum, pointer, "schema:maximum", () => max + 1));
        }

        if (s.Types == JsonKinds.Integer)
        {
            var inside = (s.Minimum ?? 0) + 0.5m;
            sites.Add(Replace(MutationKind.NotInteger, pointer, "schema:type", () => inside));
        }
    }

    private static Site Replace(MutationKind kind, string pointer, string rule, Func<JsonNode?> value, MessageCode code = MessageCode.SchemaFailure) =>
        new(kind, pointer, code, rule, root =>
        {
            var cut = pointer.LastIndexOf('/');
            var parent = Find(root, pointer[..cut]);
            var key = pointer[(cut + 1)..];
            if (parent is JsonArray array)
            {
                array[int.Parse(key, CultureInfo.InvariantCulture)] = value();
            }
            else
            {
                ((JsonObject)parent!)[key] = value();
            }
        });

    private static JsonNode? Find(JsonNode root, string pointer)
    {
        var node = root;
        foreach (var segment in pointer.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            node = node is JsonArray array ? array[int.Parse(segment, CultureInfo.InvariantCulture)]! : node![segment]!;
        }

        return node;
    }

    private sealed record Site(MutationKind Kind, string Pointer, MessageCode Code, string Rule, Action<JsonObject> Apply);
}
