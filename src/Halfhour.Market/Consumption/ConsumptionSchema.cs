using System.Text;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Consumption;

/// <summary>How a field's value is typed in the schema.</summary>
internal enum ValueKind : byte
{
    String,
    Boolean,
    /// <summary>DI-081: an integer from 30 to 30.</summary>
    PeriodDuration,
    Object,
    Array,
}

/// <summary>The check a string field takes after its length.</summary>
internal enum TextCheck : byte
{
    None,
    Enum,
    DateTime,
    Mpan,
    SenderUniqueReference,
    Decimal9Dot3,
}

/// <summary>The allowed values of an enum field, matched as bytes; each value also has the text a fact records.</summary>
internal sealed class EnumSet
{
    private readonly byte[][] _values;

    public EnumSet(params string[] values)
        : this(values, values)
    {
    }

    public EnumSet(string[] values, string[] factTexts)
    {
        _values = new byte[values.Length][];
        for (var i = 0; i < values.Length; i++)
        {
            _values[i] = Encoding.UTF8.GetBytes(values[i]);
        }

        Texts = values;
        FactTexts = factTexts;
    }

    /// <summary>The values as the schema writes them.</summary>
    public string[] Texts { get; }

    /// <summary>The text recorded in the facts for each value (event codes without their brackets).</summary>
    public string[] FactTexts { get; }

    /// <summary>The index of the value, or -1.</summary>
    public int IndexOf(ReadOnlySpan<byte> value)
    {
        for (var i = 0; i < _values.Length; i++)
        {
            if (value.SequenceEqual(_values[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The allowed values for a participant's error message.</summary>
    public string Describe() => string.Join(", ", Texts);
}

/// <summary>One property of an object in the IF-021 schema and the checks its value takes.</summary>
internal sealed class FieldRule(string name, ValueKind kind = ValueKind.String)
{
    public string Name { get; } = name;

    public byte[] Utf8Name { get; } = Encoding.UTF8.GetBytes(name);

    public ValueKind Kind { get; } = kind;

    public bool Required { get; init; } = true;

    public bool Nullable { get; init; }

    public int MinLength { get; init; }

    public int MaxLength { get; init; } = int.MaxValue;

    public TextCheck Check { get; init; }

    public EnumSet? Enum { get; init; }

    public MessageFact Fact { get; init; }

    /// <summary>The block an object field holds.</summary>
    public BlockRule? Child { get; init; }
}

/// <summary>An object of the IF-021 schema: its properties (additionalProperties is false everywhere).</summary>
internal sealed class BlockRule
{
    public BlockRule(string name, string? pointer, params FieldRule[] fields)
    {
        Name = name;
        Pointer = pointer;
        Fields = fields;
        for (var i = 0; i < fields.Length; i++)
        {
            if (fields[i].Required)
            {
                RequiredMask |= 1u << i;
            }
        }
    }

    public string Name { get; }

    /// <summary>The block's JSON pointer when it has one place in every message; null inside the settlement day array.</summary>
    public string? Pointer { get; }

    public FieldRule[] Fields { get; }

    public uint RequiredMask { get; }
}

/// <summary>
/// The IF-021 payload schema of the DIP specification (release 2.2.1, schema version 011) as tables: the blocks,
/// their fields, lengths, enums and patterns. Field order follows the specification so a message written in that
/// order matches each name at the first comparison.
/// </summary>
internal static class ConsumptionSchema
{
    /// <summary>The event codes; index 0 carries active, 1 reactive quantities.</summary>
    public static readonly EnumSet EventCodes = new(["[ActivePower]", "[ReactivePower]"], ["ActivePower", "ReactivePower"]);

    /// <summary>The measurement quantities: the first two active (import, export), the last two reactive.</summary>
    public static readonly EnumSet MeasurementQuantities = new("AI", "AE", "RI", "RE");

    /// <summary>DI-083, with <c>A</c> (actual) at index 0.</summary>
    public static readonly EnumSet QualityIndicators = new(
        "A", "E", "E0", "E1", "E2", "E3", "E4", "E5", "E6", "E7", "E8", "E9", "ZE", "ZE1", "ZE2", "ZE3", "A1", "A2", "A3",
        "AAE1", "AAE2", "AAE3", "EAE1", "EAE2", "EAE3", "EA1", "EA2", "EA3", "EA4", "EA5", "EA6", "EA7", "EA8", "EA9",
        "EA10", "EA11", "EA12", "EA13");

    /// <summary>DI-076; <c>9</c> (consumption amendment) at index 8.</summary>
    public static readonly EnumSet EstimationReasons = new("1", "2", "3", "4", "5", "6", "7", "8", "9", "10");

    /// <summary>The index of estimation reason 9, consumption amendment, the one reason that carries an <c>arc</c>.</summary>
    public const int ConsumptionAmendment = 8;

    public static readonly BlockRule S0 = new(
        "S0", "/payload/CommonBlock/S0",
        new FieldRule("interfaceID") { Check = TextCheck.Enum, Enum = new EnumSet("IF-021"), Fact = MessageFact.InterfaceId },
        new FieldRule("schemaVersion") { Check = TextCheck.Enum, Enum = new EnumSet("011"), Fact = MessageFact.SchemaVersion },
        new FieldRule("eventCode") { Check = TextCheck.Enum, Enum = EventCodes, Fact = MessageFact.EventCode });

    public static readonly BlockRule S1 = new(
        "S1", "/payload/CommonBlock/S1",
        new FieldRule("environmentTag") { MinLength = 3, MaxLength = 10, Check = TextCheck.Enum, Enum = new EnumSet("PRD", "SITB", "SIT", "UIT", "DEV"), Fact = MessageFact.EnvironmentTag },
        new FieldRule("subText") { Nullable = true, MinLength = 1, MaxLength = 500 },
        new FieldRule("senderUniqueReference") { MinLength = 1, MaxLength = 200, Check = TextCheck.SenderUniqueReference, Fact = MessageFact.SenderUniqueReference },
        new FieldRule("senderTimestamp") { MinLength = 25, MaxLength = 25, Check = TextCheck.DateTime, Fact = MessageFact.SenderTimestamp },
        new FieldRule("senderDIPID") { MinLength = 10, MaxLength = 10, Fact = MessageFact.SenderDipId },
        new FieldRule("senderRoleID") { MinLength = 3, MaxLength = 5, Fact = MessageFact.SenderRoleId },
        new FieldRule("senderCorrelationID") { Nullable = true, MinLength = 1, MaxLength = 60, Fact = MessageFact.SenderCorrelationId },
        new FieldRule("DIPConnectionProviderID") { Nullable = true, MinLength = 10, MaxLength = 10 });

    /// <summary>A0; its three lists are read by the validator itself (items: <see cref="Recipient"/>).</summary>
    public static readonly BlockRule A0 = new(
        "A0", "/payload/CommonBlock/A0",
        new FieldRule("primaryRecipients", ValueKind.Array),
        new FieldRule("secondaryRecipients", ValueKind.Array),
        new FieldRule("always", ValueKind.Array));

    /// <summary>DT-006N, the items of every A0 list.</summary>
    public static readonly FieldRule Recipient = new("item") { Nullable = true, MinLength = 10, MaxLength = 10 };

    public static readonly BlockRule D0 = new(
        "D0", "/payload/CommonBlock/D0",
        new FieldRule("transactionID") { MaxLength = 65 },
        new FieldRule("transactionTimestamp") { MinLength = 25, MaxLength = 25, Check = TextCheck.DateTime },
        new FieldRule("publicationID") { MinLength = 7, MaxLength = 8 },
        new FieldRule("initialCorrelationID") { Nullable = true, MinLength = 1, MaxLength = 60 },
        new FieldRule("replayIndicator", ValueKind.Boolean),
        new FieldRule("serviceTicketURL") { Nullable = true, MinLength = 1, MaxLength = 250 });

    public static readonly BlockRule M0 = new(
        "M0", "/payload/CommonBlock/M0",
        new FieldRule("MPANCore") { MinLength = 13, MaxLength = 13, Check = TextCheck.Mpan, Fact = MessageFact.Mpan },
        new FieldRule("distributorDIPID") { MinLength = 10, MaxLength = 10, Fact = MessageFact.DistributorDipId },
        new FieldRule("GSPGroupID") { MinLength = 2, MaxLength = 2, Check = TextCheck.Enum, Enum = new EnumSet("_A", "_B", "_C", "_D", "_E", "_F", "_G", "_H", "_J", "_K", "_L", "_M", "_N", "_P"), Fact = MessageFact.GspGroupId });

    public static readonly BlockRule CommonBlock = new(
        "CommonBlock", "/payload/CommonBlock",
        new FieldRule("S0", ValueKind.Object) { Child = S0 },
        new FieldRule("S1", ValueKind.Object) { Child = S1 },
        new FieldRule("A0", ValueKind.Object) { Child = A0, Required = false },
        new FieldRule("D0", ValueKind.Object) { Child = D0, Required = false },
        new FieldRule("M0", ValueKind.Object) { Child = M0 });

    public static readonly BlockRule B044 = new("B044", "/payload/CustomBlock/B044", new FieldRule("issuingDataServiceDIPID") { MinLength = 10, MaxLength = 10 });

    public static readonly BlockRule B067 = new(
        "B067", "/payload/CustomBlock/B067",
        new FieldRule("connectionTypeIndicator") { MinLength = 1, MaxLength = 1, Check = TextCheck.Enum, Enum = new EnumSet("W", "L", "H", "E", "U") },
        new FieldRule("connectionTypeEffectiveFromDate") { MinLength = 25, MaxLength = 25, Check = TextCheck.DateTime });

    public static readonly BlockRule B045 = new(
        "MQID", "/payload/CustomBlock/B900/MQID",
        new FieldRule("measurementQuantityID") { MinLength = 2, MaxLength = 2, Check = TextCheck.Enum, Enum = MeasurementQuantities });

    /// <summary>B900; its settlement day array is read by the validator itself.</summary>
    public static readonly BlockRule B900 = new(
        "B900", "/payload/CustomBlock/B900",
        new FieldRule("MQID", ValueKind.Object) { Child = B045 },
        new FieldRule("settlementDayConsumptionPeriods", ValueKind.Array));

    public static readonly BlockRule CustomBlock = new(
        "CustomBlock", "/payload/CustomBlock",
        new FieldRule("B044", ValueKind.Object) { Child = B044 },
        new FieldRule("B067", ValueKind.Object) { Child = B067 },
        new FieldRule("B900", ValueKind.Object) { Child = B900 });

    public static readonly BlockRule Payload = new(
        "payload", "/payload",
        new FieldRule("CommonBlock", ValueKind.Object) { Child = CommonBlock },
        new FieldRule("CustomBlock", ValueKind.Object) { Child = CustomBlock });

    public static readonly BlockRule Envelope = new("message", "", new FieldRule("payload", ValueKind.Object) { Child = Payload });

    /// <summary>B046: the settlement day's date and period length.</summary>
    public static readonly BlockRule B046 = new(
        "settlementDay", null,
        new FieldRule("settlementDayDate") { MinLength = 25, MaxLength = 25, Check = TextCheck.DateTime },
        new FieldRule("periodDuration", ValueKind.PeriodDuration));

    /// <summary>B901: one settlement day and its periods; read by the validator itself.</summary>
    public static readonly BlockRule B901 = new(
        "settlement day", null,
        new FieldRule("settlementDay", ValueKind.Object) { Child = B046 },
        new FieldRule("consumptionPeriods", ValueKind.Array));

    /// <summary>B047: one settlement period; the field indexes are <see cref="Sp"/> … <see cref="Arc"/>.</summary>
    public static readonly BlockRule B047 = new(
        "consumption period", null,
        new FieldRule("sp") { MinLength = 25, MaxLength = 25, Check = TextCheck.DateTime },
        new FieldRule("v") { Check = TextCheck.Decimal9Dot3 },
        new FieldRule("q") { MinLength = 1, MaxLength = 5, Check = TextCheck.Enum, Enum = QualityIndicators },
        new FieldRule("e") { Nullable = true, MinLength = 1, MaxLength = 2, Check = TextCheck.Enum, Enum = EstimationReasons },
        new FieldRule("arc") { Nullable = true, MinLength = 1, MaxLength = 1, Check = TextCheck.Enum, Enum = new EnumSet("A", "E", "M", "R", "S", "T", "X") });

    public const int Sp = 0;
    public const int V = 1;
    public const int Q = 2;
    public const int E = 3;
    public const int Arc = 4;

    /// <summary>The most settlement days in one message (B900 maxItems).</summary>
    public const int MaxSettlementDays = 200;

    /// <summary>The periods of a UTC settlement day, and B901's maxItems: a UTC day has no clock change.</summary>
    public const int PeriodsPerDay = 48;

    /// <summary>The length of a settlement period, in seconds.</summary>
    public const int PeriodSeconds = 1800;

    /// <summary>The length of a UTC day, in seconds.</summary>
    public const int DaySeconds = 86_400;
}
