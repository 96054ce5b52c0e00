using System.Text;
using System.Text.RegularExpressions;

namespace Halfhour.Market.Schemas;

/// <summary>The JSON types a schema admits (the specification gives each schema exactly one).</summary>
[Flags]
internal enum JsonKinds : byte
{
    None = 0,
    Object = 1,
    Array = 2,
    String = 4,
    Integer = 8,
    Number = 16,
    Boolean = 32,
}

/// <summary>A market rule the schema cannot say, attached to a data type of the specification.</summary>
internal enum SemanticRule : byte
{
    None,
    /// <summary>An MPAN core whose check digit is right (DT-002).</summary>
    Mpan,
    /// <summary>A 25-character date-time naming a real instant (DT-003).</summary>
    DateTime,
    /// <summary>A <c>yyyy-MM-dd</c> date naming a real calendar day (DT-021).</summary>
    Date,
}

/// <summary>One property of an object schema: its name (as text and as UTF-8) and its schema.</summary>
internal sealed class PropertyRule(string name, SchemaNode schema)
{
    public string Name { get; } = name;
    public byte[] Utf8Name { get; } = Encoding.UTF8.GetBytes(name);
    public SchemaNode Schema { get; } = schema;
    public bool Required { get; set; }
}

/// <summary>
/// One schema of the catalogue in the project's own form: exactly the validation keywords the
/// specification uses (type, nullable, lengths, pattern, enum, bounds, multipleOf, array bounds,
/// properties, required, additionalProperties:false) plus the market rule of its data type.
/// Built once at load; read-only afterwards, so one instance serves every thread.
/// </summary>
internal sealed class SchemaNode
{
    /// <summary>The specification's name for a named type (e.g. <c>DT-002-MPAN</c>); null for inline schemas.</summary>
    public string? Name { get; set; }
    public JsonKinds Types { get; set; }
    /// <summary>OpenAPI 3.0 <c>nullable: true</c>: null is admitted whatever the other keywords say (see <see cref="SchemaEvaluator"/>).</summary>
    public bool Nullable { get; set; }
    public int MinLength { get; set; }
    public int MaxLength { get; set; } = int.MaxValue;
    public string? PatternText { get; set; }
    public Regex? Pattern { get; set; }
    public string[]? EnumText { get; set; }
    public byte[][]? EnumUtf8 { get; set; }
    public decimal? Minimum { get; set; }
    public decimal? Maximum { get; set; }
    public decimal? MultipleOf { get; set; }
    public int MinItems { get; set; }
    public int MaxItems { get; set; } = int.MaxValue;
    public SchemaNode? Items { get; set; }
    public PropertyRule[] Properties { get; set; } = [];
    /// <summary>Indexes into <see cref="Properties"/> of the required ones, in the order the specification lists them.</summary>
    public int[] RequiredOrder { get; set; } = [];
    public ulong RequiredMask { get; set; }
    /// <summary><c>additionalProperties: false</c>.</summary>
    public bool Closed { get; set; }
    public SemanticRule Rule { get; set; }

    /// <summary>The index of the property named by <paramref name="utf8Name"/>, or -1.</summary>
    public int IndexOf(ReadOnlySpan<byte> utf8Name)
    {
        var properties = Properties;
        for (var i = 0; i < properties.Length; i++)
        {
            if (utf8Name.SequenceEqual(properties[i].Utf8Name))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The index of the property named <paramref name="name"/>, or -1.</summary>
    public int IndexOf(string name)
    {
        for (var i = 0; i < Properties.Length; i++)
        {
            if (Properties[i].Name == name)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>True when <paramref name="utf8"/> is one of the enum's values.</summary>
    public bool EnumContains(ReadOnlySpan<byte> utf8)
    {
        foreach (var value in EnumUtf8!)
        {
            if (utf8.SequenceEqual(value))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The type in words, for failure sentences: "a string", "an integer" …</summary>
    public string TypeInWords => Types switch
    {
        JsonKinds.Object => "an object",
        JsonKinds.Array => "an array",
        JsonKinds.String => "a string",
        JsonKinds.Integer => "an integer",
        JsonKinds.Number => "a number",
        JsonKinds.Boolean => "true or false",
        _ => "a value",
    };
}
