using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Halfhour.Market.Envelope;
using Halfhour.Market.Rules;
using Halfhour.Market.Validation;
using static Halfhour.Market.Consumption.ConsumptionSchema;

namespace Halfhour.Market.Consumption;

/// <summary>
/// The dedicated validator of IF-021 consumption messages, the interface that carries ~30 million messages a day.
/// One forward pass of <see cref="Utf8JsonReader"/> over the bytes checks the whole message against the DIP
/// schema (required fields, types, lengths, patterns, enums, array bounds, no unknown properties, nullability)
/// and the market rules (MPAN check digit, real date-times, 48 UTC half-hour periods per settlement day, quality
/// and reason codes), and fills the <see cref="MessageFacts"/> on the way. Nothing is allocated per period.
/// Thread-safe: all state of a pass lives on the stack.
/// </summary>
/// <remarks>
/// Schema failures stop the pass at once and win; a market-rule failure is remembered and the pass goes on, so a
/// message is reported as breaking a market rule only when it matches the schema. Of several market-rule failures
/// the first in document order is reported.
/// </remarks>
public sealed class ConsumptionValidator(ConsumptionRules? rules = null) : IMessageValidator
{
    // The schema's deepest value (a period's field) sits at depth 8; anything deeper is rejected before it is read.
    private const int MaxDepth = 16;

    // Room to unescape any checked string within its maxLength: 200 code points at 12 bytes (a surrogate-pair escape) each.
    private const int ScratchBytes = 2400;

    [ThreadStatic]
    private static byte[]? _threadScratch;

    /// <summary>The conventions and limits this validator applies.</summary>
    public ConsumptionRules Rules { get; } = rules ?? ConsumptionRules.Default;

    /// <inheritdoc />
    public ValidationResult Validate(ReadOnlySpan<byte> utf8Message, MessageFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        facts.Reset();
        if (utf8Message.Length > Rules.MaxMessageBytes)
        {
            return TooLarge(utf8Message.Length);
        }

        try
        {
            var pass = new Pass(new Utf8JsonReader(utf8Message, new JsonReaderOptions { MaxDepth = MaxDepth }), facts, Rules);
            if (!pass.ReadFirstToken())
            {
                return NotAnObject;
            }

            return pass.Run(alone: true);
        }
        catch (JsonException e)
        {
            return ValidationResult.Fail(MessageCode.MalformedMessage, "", "json:syntax",
                string.Create(CultureInfo.InvariantCulture, $"The message is not well-formed JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1} of the line): {e.Message} Send one JSON object {{\"payload\":…}} in UTF-8."));
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The same pass on the batch's reader: the message is tokenised once. The size limit is checked when the message's
    /// end is known; a message over it is refused for its size whatever else was found, as when its bytes are validated.
    /// The schema nests no deeper than the pass's own depth limit, so a deeper message is refused for its schema before the
    /// batch reader's depth limit matters.
    /// </remarks>
    public ValidationResult Validate(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8Document, MessageFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        facts.Reset();
        var start = reader.TokenStartIndex;
        var depth = reader.CurrentDepth;
        var pass = new Pass(reader, facts, Rules);
        var verdict = pass.Run(alone: false);
        reader = pass.Reader;
        MessageBatch.SkipRestOfMessage(ref reader, start, depth);
        var length = reader.BytesConsumed - start;
        if (length > Rules.MaxMessageBytes)
        {
            facts.Reset();
            return TooLarge(length);
        }

        return verdict;
    }

    private ValidationResult TooLarge(long length) => ValidationResult.Fail(MessageCode.LimitExceeded, "", "limit:message-size",
        string.Create(CultureInfo.InvariantCulture, $"The message is {length} bytes; an IF-021 message may be at most {Rules.MaxMessageBytes} bytes. Split the settlement days over several messages."));

    private static readonly ValidationResult NotAnObject = ValidationResult.Fail(MessageCode.MalformedMessage, "", "json:not-an-object",
        "A message is one JSON object {\"payload\":{\"CommonBlock\":…,\"CustomBlock\":…}}; send each message of a batch as its own object.");

    /// <summary>One value per period of a settlement day, inline in the pass.</summary>
    [System.Runtime.CompilerServices.InlineArray(PeriodsPerDay)]
    private struct PeriodValues
    {
        private long _first;
    }

    /// <summary>Where a field is: a fixed prefix, an array index, a fixed middle and a second index (-1: absent).</summary>
    private readonly struct Where(string prefix, int index = -1, string middle = "", int subIndex = -1)
    {
        public string Field(string? name)
        {
            var at = prefix;
            if (index >= 0)
            {
                at = string.Create(CultureInfo.InvariantCulture, $"{at}/{index}{middle}");
                if (subIndex >= 0)
                {
                    at = string.Create(CultureInfo.InvariantCulture, $"{at}/{subIndex}");
                }
            }

            return name is null ? at : at + "/" + name;
        }
    }

    /// <summary>One validation pass: the reader, the facts it fills and what it has learnt so far.</summary>
    private ref struct Pass
    {
        private const string DaysPointer = "/payload/CustomBlock/B900/settlementDayConsumptionPeriods";
        private const long NoInstant = long.MinValue;
        private static readonly string[] RecipientPointers = Array.ConvertAll(A0.Fields, f => A0.Pointer + "/" + f.Name);

        private readonly MessageFacts _facts;
        private readonly ConsumptionRules _rules;
        // Each period's instant and where it stood, for the rules of its day: held in the pass itself, nothing allocated.
        private PeriodValues _stamps;
        private PeriodValues _stampPositions;
        private Utf8JsonReader _reader;
        private ValidationResult? _failure;
        private ValidationResult? _ruleFailure;
        private long _ruleFailurePosition;

        // What the last scalar read left behind.
        private int _enumIndex;
        private long _instant;
        private bool _isNull;

        private int _eventCode;
        private int _quantity;
        private long _quantityPosition;
        private long _previousDay;

        // The date and offset of the last period date-time parsed in full, and its midnight (see TryReadInstant).
        private long _dayBase;
        private ulong _dayDate;
        private ushort _dayDateEnd;
        private uint _dayOffset;
        private ushort _dayOffsetEnd;

        public Pass(Utf8JsonReader reader, MessageFacts facts, ConsumptionRules rules)
        {
            _reader = reader;
            _facts = facts;
            _rules = rules;
            _eventCode = _quantity = -1;
            _previousDay = _dayBase = NoInstant;
        }

        /// <summary>The reader where the pass left it.</summary>
        public readonly Utf8JsonReader Reader => _reader;

        /// <summary>Moves to the message's first token; false when there is none.</summary>
        public bool ReadFirstToken() => _reader.Read();

        /// <summary>
        /// Judges the message whose first token the reader stands on; stops at the first schema failure. When the message is
        /// the whole input (<paramref name="alone"/>), anything after its closing brace but whitespace is malformed.
        /// </summary>
        public ValidationResult Run(bool alone)
        {
            if (_reader.TokenType != JsonTokenType.StartObject)
            {
                return NotAnObject;
            }

            if (!ReadBlock(ConsumptionSchema.Envelope, new Where("")))
            {
                return _failure!;
            }

            if (alone)
            {
                // Anything after the message's closing brace other than whitespace makes the reader throw (malformed).
                _reader.Read();
            }

            if (_eventCode >= 0 && _quantity >= 0 && (_eventCode == 0) != (_quantity < 2))
            {
                RuleFailure(new Where("/payload/CustomBlock/B900/MQID").Field("measurementQuantityID"), "mqid:event-code",
                    $"measurementQuantityID {MeasurementQuantities.Texts[_quantity]} does not belong to event {EventCodes.Texts[_eventCode]}: [ActivePower] carries AI or AE, [ReactivePower] RI or RE.",
                    _quantityPosition);
            }

            return _ruleFailure ?? ValidationResult.Valid;
        }

        // Reads an object whose StartObject has been read, and everything in it.
        private bool ReadBlock(BlockRule block, Where where)
        {
            var seen = 0u;
            int field;
            while ((field = NextField(block, ref seen, where)) >= 0)
            {
                var rule = block.Fields[field];
                if (rule.Kind is ValueKind.Object or ValueKind.Array && !Open(rule, where))
                {
                    return false;
                }

                var ok = rule.Kind switch
                {
                    ValueKind.Object => ReadBlock(rule.Child!, new Where(rule.Child!.Pointer!)),
                    ValueKind.Array when block == A0 => ReadRecipients(field),
                    ValueKind.Array => ReadSettlementDays(),
                    _ => ReadScalar(rule, where),
                };
                if (!ok)
                {
                    return false;
                }

                if (rule.Child == B045)
                {
                    _quantity = _enumIndex;
                    _quantityPosition = _reader.TokenStartIndex;
                }
            }

            return field == -1;
        }

        private bool ReadRecipients(int list)
        {
            var prefix = RecipientPointers[list];
            for (var i = 0; ; i++)
            {
                _reader.Read();
                if (_reader.TokenType == JsonTokenType.EndArray)
                {
                    return true;
                }

                if (i == _rules.MaxRecipients)
                {
                    return Fail(MessageCode.LimitExceeded, new Where(prefix, i).Field(null), "limit:recipients",
                        string.Create(CultureInfo.InvariantCulture, $"{A0.Fields[list].Name} has more than {_rules.MaxRecipients} entries; address each participant once."));
                }

                if (!ReadScalar(Recipient, new Where(prefix, i), isItem: true))
                {
                    return false;
                }

                if (list == 0 && !_isNull)
                {
                    _facts.PrimaryRecipients.Add(_reader.ValueIsEscaped ? _reader.GetString()! : ShortStringCache.Get(_reader.ValueSpan));
                }
            }
        }

        private bool ReadSettlementDays()
        {
            var day = 0;
            for (; ; day++)
            {
                _reader.Read();
                if (_reader.TokenType == JsonTokenType.EndArray)
                {
                    break;
                }

                if (day == MaxSettlementDays)
                {
                    return Fail(MessageCode.LimitExceeded, new Where(DaysPointer, day).Field(null), "schema:maxItems",
                        string.Create(CultureInfo.InvariantCulture, $"settlementDayConsumptionPeriods has more than {MaxSettlementDays} settlement days; send at most {MaxSettlementDays} per message."));
                }

                if (_reader.TokenType != JsonTokenType.StartObject)
                {
                    return TypeFailure(new Where(DaysPointer, day).Field(null), "a settlement day", "an object");
                }

                if (!ReadSettlementDay(day))
                {
                    return false;
                }
            }

            return day > 0 || Fail(MessageCode.SchemaFailure, DaysPointer, "schema:minItems",
                "settlementDayConsumptionPeriods is empty; send at least one settlement day.");
        }

        private bool ReadSettlementDay(int day)
        {
            var seen = 0u;
            var where = new Where(DaysPointer, day);
            var dayStart = NoInstant;
            var dayPosition = _reader.TokenStartIndex;
            var periods = 0;
            int field;
            while ((field = NextField(B901, ref seen, where)) >= 0)
            {
                if (!Open(B901.Fields[field], where))
                {
                    return false;
                }

                if (field == 0)
                {
                    _instant = NoInstant;
                    if (!ReadBlock(B046, new Where(DaysPointer, day, "/settlementDay")))
                    {
                        return false;
                    }

                    dayStart = _instant;
                }
                else if (!ReadPeriods(day, out periods))
                {
                    return false;
                }
            }

            if (field != -1)
            {
                return false;
            }

            CheckSettlementDay(day, dayStart, dayPosition, periods);
            return true;
        }

        private bool ReadPeriods(int day, out int periods)
        {
            periods = 0;
            for (; ; periods++)
            {
                _reader.Read();
                if (_reader.TokenType == JsonTokenType.EndArray)
                {
                    break;
                }

                if (periods == PeriodsPerDay)
                {
                    return Fail(MessageCode.LimitExceeded, new Where(DaysPointer, day, "/consumptionPeriods", periods).Field(null), "schema:maxItems",
                        string.Create(CultureInfo.InvariantCulture, $"consumptionPeriods has more than {PeriodsPerDay} periods; a UTC settlement day has exactly {PeriodsPerDay}."));
                }

                if (_reader.TokenType != JsonTokenType.StartObject)
                {
                    return TypeFailure(new Where(DaysPointer, day, "/consumptionPeriods", periods).Field(null), "a consumption period", "an object");
                }

                if (!ReadPeriod(day, periods))
                {
                    return false;
                }
            }

            return periods > 0 || Fail(MessageCode.SchemaFailure, new Where(DaysPointer, day).Field("consumptionPeriods"), "schema:minItems",
                "consumptionPeriods is empty; a UTC settlement day carries its 48 periods.");
        }

        private bool ReadPeriod(int day, int period)
        {
            var seen = 0u;
            var where = new Where(DaysPointer, day, "/consumptionPeriods", period);
            int quality = -1, reason = -1;
            bool reasonIsNull = true, amendmentIsNull = true;
            int field;
            while ((field = NextField(B047, ref seen, where)) >= 0)
            {
                if (!ReadPeriodValue(field, where))
                {
                    return false;
                }

                switch (field)
                {
                    case Sp:
                        _stamps[period] = _instant;
                        _stampPositions[period] = _reader.TokenStartIndex;
                        break;
                    case Q:
                        quality = _enumIndex;
                        break;
                    case E:
                        reasonIsNull = _isNull;
                        reason = _enumIndex;
                        break;
                    case Arc:
                        amendmentIsNull = _isNull;
                        break;
                }
            }

            if (field != -1)
            {
                return false;
            }

            // DI-076 is mandatory exactly when the quality is not A (actual); DI-166 exactly when DI-076 is 9, consumption amendment.
            var isActual = quality == 0;
            if (isActual != reasonIsNull)
            {
                RuleFailure(where.Field("e"), isActual ? "estimation-reason:with-actual" : "estimation-reason:required",
                    isActual
                        ? "e (estimation reason) must be null when q is A (actual); remove the reason or correct the quality."
                        : $"e (estimation reason) is required because q is {QualityIndicators.Texts[quality]}, not A (actual); give the reason 1–10.",
                    _reader.TokenStartIndex);
            }

            var isAmendment = !reasonIsNull && reason == ConsumptionAmendment;
            if (isAmendment == amendmentIsNull)
            {
                RuleFailure(where.Field("arc"), isAmendment ? "amendment-reason:required" : "amendment-reason:without-amendment",
                    isAmendment
                        ? "arc (supplier consumption amendment reason) is required because e is 9, consumption amendment; give A, E, M, R, S, T or X."
                        : "arc (supplier consumption amendment reason) must be null unless e is 9, consumption amendment.",
                    _reader.TokenStartIndex);
            }

            return true;
        }

        // The values nearly every period has, accepted without the general checks (which the rest falls back to,
        // so the verdict is the same): an unescaped date-time, a well-formed quantity, q = A, a null e or arc.
        private bool ReadPeriodValue(int field, Where where)
        {
            var token = _reader.TokenType;
            if (!_reader.ValueIsEscaped)
            {
                var value = _reader.ValueSpan;
                switch (field)
                {
                    case Sp when token == JsonTokenType.String && TryReadInstant(value):
                        return true;
                    case V when token == JsonTokenType.String && SchemaText.IsDecimal9Dot3(value):
                        return true;
                    case Q when token == JsonTokenType.String && value.Length == 1 && value[0] == (byte)'A':
                        _enumIndex = 0;
                        return true;
                    case E or Arc when token == JsonTokenType.Null:
                        _isNull = true;
                        _enumIndex = -1;
                        return true;
                }
            }

            return ReadScalar(B047.Fields[field], where);
        }

        // Reads a period's date-time into _instant. The periods of a day share their date and offset, so those are
        // parsed once and remembered: later periods cost a comparison and the time of day.
        private bool TryReadInstant(ReadOnlySpan<byte> value)
        {
            if (value.Length != MarketDateTime.Length)
            {
                return false;
            }

            var date = BinaryPrimitives.ReadUInt64LittleEndian(value);
            var dateEnd = BinaryPrimitives.ReadUInt16LittleEndian(value[8..]);
            var offset = BinaryPrimitives.ReadUInt32LittleEndian(value[19..]);
            var offsetEnd = BinaryPrimitives.ReadUInt16LittleEndian(value[23..]);
            var secondOfDay = SecondOfDay(value);
            if (secondOfDay >= 0 && _dayBase != NoInstant && date == _dayDate && dateEnd == _dayDateEnd && offset == _dayOffset && offsetEnd == _dayOffsetEnd)
            {
                _instant = _dayBase + secondOfDay;
                return true;
            }

            if (!MarketDateTime.TryParseUnixSeconds(value, out _instant))
            {
                return false;
            }

            // Remember the day only far from the ends of the calendar, where a time of day could leave its range.
            var dayBase = _instant - secondOfDay;
            _dayBase = dayBase is > -2_000_000_000L and < 30_000_000_000L ? dayBase : NoInstant;
            (_dayDate, _dayDateEnd, _dayOffset, _dayOffsetEnd) = (date, dateEnd, offset, offsetEnd);
            return true;
        }

        // The seconds since midnight of the THH:mm:ss part of a date-time, or -1 when it is no real time of day.
        private static int SecondOfDay(ReadOnlySpan<byte> value)
        {
            if (value[10] != (byte)'T' || value[13] != (byte)':' || value[16] != (byte)':')
            {
                return -1;
            }

            var hour = TwoDigits(value[11], value[12]);
            var minute = TwoDigits(value[14], value[15]);
            var second = TwoDigits(value[17], value[18]);
            return (uint)hour < 24 && (uint)minute < 60 && (uint)second < 60 ? hour * 3600 + minute * 60 + second : -1;
        }

        private static int TwoDigits(byte tens, byte units)
        {
            var t = tens - (byte)'0';
            var u = units - (byte)'0';
            return (uint)t <= 9 && (uint)u <= 9 ? t * 10 + u : -1;
        }

        // The market rules of one settlement day, applied once its date and all its periods are known (either may come first).
        private void CheckSettlementDay(int day, long dayStart, long dayPosition, int periods)
        {
            if (dayStart == NoInstant)
            {
                return;
            }

            var where = new Where(DaysPointer, day);
            if (dayStart % DaySeconds != 0)
            {
                RuleFailure(new Where(DaysPointer, day, "/settlementDay").Field("settlementDayDate"), "settlement-day:midnight",
                    $"settlementDayDate {Show(dayStart)} is not a UTC midnight; a UTC settlement day is given by its midnight, e.g. 2025-01-31T00:00:00+00:00.",
                    dayPosition);
                return;
            }

            if (_previousDay != NoInstant && dayStart <= _previousDay)
            {
                RuleFailure(new Where(DaysPointer, day, "/settlementDay").Field("settlementDayDate"), "settlement-days:order",
                    $"settlement day {Show(dayStart)} does not follow {Show(_previousDay)}; send the settlement days in ascending order, each once.",
                    dayPosition);
            }

            _previousDay = dayStart;
            var first = dayStart + (_rules.PeriodStamp == PeriodStamp.End ? PeriodSeconds : 0);
            var previous = NoInstant;
            for (var i = 0; i < periods; i++)
            {
                var stamp = _stamps[i];
                if (stamp == NoInstant)
                {
                    previous = NoInstant;
                    continue;
                }

                var sp = new Where(DaysPointer, day, "/consumptionPeriods", i);
                var offset = stamp - first;
                if (offset % PeriodSeconds != 0)
                {
                    RuleFailure(sp.Field("sp"), "periods:half-hour", $"sp {Show(stamp)} is not on a UTC half hour; each period is stamped at :00 or :30 past a UTC hour.", _stampPositions[i]);
                }
                else if (offset < 0 || offset >= DaySeconds)
                {
                    RuleFailure(sp.Field("sp"), "periods:outside-day", $"sp {Show(stamp)} is outside settlement day {Show(dayStart)}; move the period to its own UTC day.", _stampPositions[i]);
                }
                else if (previous != NoInstant && stamp == previous)
                {
                    RuleFailure(sp.Field("sp"), "periods:repeat", $"sp {Show(stamp)} repeats the previous period; send each half hour once.", _stampPositions[i]);
                }
                else if (previous != NoInstant && stamp < previous)
                {
                    RuleFailure(sp.Field("sp"), "periods:order", $"sp {Show(stamp)} comes before the previous period {Show(previous)}; send the periods in ascending order.", _stampPositions[i]);
                }

                previous = stamp;
            }

            if (periods != PeriodsPerDay)
            {
                RuleFailure(where.Field("consumptionPeriods"), "periods:count",
                    string.Create(CultureInfo.InvariantCulture, $"settlement day {Show(dayStart)} has {periods} periods; a UTC settlement day has exactly {PeriodsPerDay}, one per UTC half hour."),
                    dayPosition);
            }
        }

        // Reads the next property name of an object and moves to its value: the field's index, -1 when the object
        // ended with every required field present, -2 on a failure.
        private int NextField(BlockRule block, ref uint seen, Where where)
        {
            _reader.Read();
            var fields = block.Fields;
            if (_reader.TokenType == JsonTokenType.EndObject)
            {
                var missing = block.RequiredMask & ~seen;
                if (missing == 0)
                {
                    return -1;
                }

                var absent = fields[BitOperations.TrailingZeroCount(missing)];
                Fail(MessageCode.SchemaFailure, where.Field(absent.Name), "schema:required",
                    $"{absent.Name} is required in {block.Name}; add it{(absent.Nullable ? " (null is allowed)" : "")}.");
                return -2;
            }

            // Messages written in the schema's order match at the first comparison.
            var index = BitOperations.PopCount(seen);
            if (index >= fields.Length || !(_reader.ValueIsEscaped ? _reader.ValueTextEquals(fields[index].Utf8Name) : _reader.ValueSpan.SequenceEqual(fields[index].Utf8Name)))
            {
                index = -1;
                for (var i = 0; i < fields.Length; i++)
                {
                    if (_reader.ValueTextEquals(fields[i].Utf8Name))
                    {
                        index = i;
                        break;
                    }
                }
            }

            if (index < 0)
            {
                var name = NameForMessage();
                Fail(MessageCode.SchemaFailure, where.Field(SchemaText.PointerToken(_reader.ValueSpan)), "schema:additionalProperties",
                    $"{block.Name} has no property '{name}'; remove it (allowed: {string.Join(", ", Array.ConvertAll(fields, f => f.Name))}).");
                return -2;
            }

            if ((seen & (1u << index)) != 0)
            {
                Fail(MessageCode.MalformedMessage, where.Field(fields[index].Name), "json:duplicate-key",
                    $"{fields[index].Name} appears twice in {block.Name}; send each property once.");
                return -2;
            }

            seen |= 1u << index;
            _reader.Read();
            return index;
        }

        // Checks that the value token just read opens the object or array the field calls for.
        private bool Open(FieldRule field, Where parent)
        {
            var expected = field.Kind == ValueKind.Array ? JsonTokenType.StartArray : JsonTokenType.StartObject;
            return _reader.TokenType == expected || TypeFailure(parent.Field(field.Name), field.Name, Expected(field));
        }

        // Checks a scalar value token (string, boolean, the period duration) against its field rule.
        private bool ReadScalar(FieldRule field, Where where, bool isItem = false)
        {
            _isNull = false;
            var token = _reader.TokenType;
            switch (field.Kind)
            {
                case ValueKind.Boolean:
                    return token is JsonTokenType.True or JsonTokenType.False || TypeFailure(Pointer(field, where, isItem), field.Name, Expected(field));
                case ValueKind.PeriodDuration:
                    return ReadPeriodDuration(field, where);
            }

            if (token == JsonTokenType.Null && field.Nullable)
            {
                _isNull = true;
                _enumIndex = -1;
                return true;
            }

            if (token != JsonTokenType.String)
            {
                return TypeFailure(Pointer(field, where, isItem), field.Name, Expected(field));
            }

            var raw = _reader.ValueSpan;
            var escaped = _reader.ValueIsEscaped;
            int length;
            if (!escaped && System.Text.Ascii.IsValid(raw))
            {
                length = raw.Length;
            }
            else if (!SchemaText.IsWellFormed(raw))
            {
                return Fail(MessageCode.MalformedMessage, Pointer(field, where, isItem), "json:utf8",
                    $"{field.Name} is not valid UTF-8; send the message encoded as UTF-8.");
            }
            else
            {
                length = SchemaText.CodePoints(raw, escaped);
            }

            if (length < field.MinLength || length > field.MaxLength)
            {
                var tooShort = length < field.MinLength;
                return Fail(MessageCode.SchemaFailure, Pointer(field, where, isItem), tooShort ? "schema:minLength" : "schema:maxLength",
                    string.Create(CultureInfo.InvariantCulture, $"{field.Name} is {length} characters long; it must be {(field.MinLength == field.MaxLength ? $"exactly {field.MinLength}" : tooShort ? $"at least {field.MinLength}" : $"at most {field.MaxLength}")}."));
            }

            if (field.Check == TextCheck.None && field.Fact == MessageFact.None)
            {
                return true;
            }

            ReadOnlySpan<byte> text = raw;
            if (escaped)
            {
                if (raw.Length > ScratchBytes)
                {
                    return Fail(MessageCode.SchemaFailure, Pointer(field, where, isItem), field.Check == TextCheck.Enum ? "schema:enum" : "schema:pattern",
                        $"{field.Name} does not match its schema: {Expected(field)}.");
                }

                // Escapes are rare in these fields: the buffer to unescape into is made once per thread, not zeroed per message.
                var scratch = _threadScratch ??= new byte[ScratchBytes];
                text = scratch.AsSpan(0, _reader.CopyString(scratch));
            }

            if (!Check(field, where, isItem, text))
            {
                return false;
            }

            if (field.Fact != MessageFact.None)
            {
                Record(field, text);
            }

            return true;
        }

        private bool Check(FieldRule field, Where where, bool isItem, ReadOnlySpan<byte> text)
        {
            switch (field.Check)
            {
                case TextCheck.Enum:
                    _enumIndex = field.Enum!.IndexOf(text);
                    if (_enumIndex < 0)
                    {
                        return Fail(MessageCode.SchemaFailure, Pointer(field, where, isItem), "schema:enum",
                            $"{field.Name} '{Quote(text)}' is not allowed; use one of {field.Enum.Describe()}.");
                    }

                    if (field.Enum == EventCodes)
                    {
                        _eventCode = _enumIndex;
                    }

                    return true;
                case TextCheck.DateTime:
                    if (!MarketDateTime.TryParseUnixSeconds(text, out _instant))
                    {
                        _instant = NoInstant;
                        RuleFailure(Pointer(field, where, isItem), "datetime:format",
                            $"{field.Name} '{Quote(text)}' is not a real date-time of the form yyyy-MM-ddTHH:mm:ss±hh:mm, e.g. 2025-01-31T00:00:00+00:00.",
                            _reader.TokenStartIndex);
                    }

                    return true;
                case TextCheck.Mpan:
                    if (!SchemaText.IsThirteenDigits(text))
                    {
                        return Fail(MessageCode.SchemaFailure, Pointer(field, where, isItem), "schema:pattern", $"{field.Name} '{Quote(text)}' must be 13 digits.");
                    }

                    if (!MpanCore.IsValid(text))
                    {
                        RuleFailure(Pointer(field, where, isItem), "mpan:check-digit",
                            $"MPAN core {Quote(text)} fails its check digit (the 13th digit must be {MpanCore.CheckDigit(Quote(text).AsSpan(0, 12))}); check the MPAN core for a typing error.",
                            _reader.TokenStartIndex);
                    }

                    return true;
                case TextCheck.SenderUniqueReference:
                    return SchemaText.IsSenderUniqueReference(text) || Fail(MessageCode.SchemaFailure, Pointer(field, where, isItem), "schema:pattern",
                        $"{field.Name} '{Quote(text)}' must look like S-IF-021-<sender DIP ID as 10 hex digits>-<role>-<yyyyMMdd>-<your reference>.");
                case TextCheck.Decimal9Dot3:
                    return SchemaText.IsDecimal9Dot3(text) || Fail(MessageCode.SchemaFailure, Pointer(field, where, isItem), "schema:pattern",
                        $"{field.Name} '{Quote(text)}' must be a quantity with up to 9 digits, a point and exactly 3 decimals, e.g. 0.250 or -1.500.");
                default:
                    return true;
            }
        }

        private bool ReadPeriodDuration(FieldRule field, Where where)
        {
            if (_reader.TokenType != JsonTokenType.Number)
            {
                return TypeFailure(where.Field(field.Name), field.Name, Expected(field));
            }

            // JSON Schema counts 30.0 as the integer 30; a number too long for a decimal is no period duration.
            if (_reader.TryGetInt32(out var minutes) ? minutes == 30 : _reader.ValueSpan.Length <= 64 && _reader.TryGetDecimal(out var exact) && exact == 30m)
            {
                return true;
            }

            return Fail(MessageCode.SchemaFailure, where.Field(field.Name), "schema:maximum",
                $"{field.Name} is {Quote(_reader.ValueSpan)}; a UTC settlement period lasts 30 minutes, so it must be 30.");
        }

        private readonly void Record(FieldRule field, ReadOnlySpan<byte> text)
        {
            var value = field.Check == TextCheck.Enum ? field.Enum!.FactTexts[_enumIndex]
                : field.Fact is MessageFact.SenderDipId or MessageFact.SenderRoleId or MessageFact.DistributorDipId ? ShortStringCache.Get(text)
                : System.Text.Encoding.UTF8.GetString(text);
            _facts.Set(field.Fact, value);
        }

        private bool TypeFailure(string pointer, string name, string expected) =>
            Fail(MessageCode.SchemaFailure, pointer, "schema:type", $"{name} must be {expected}, not {Describe(_reader.TokenType)}.");

        private bool Fail(MessageCode code, string pointer, string rule, string detail)
        {
            _failure = ValidationResult.Fail(code, pointer, rule, detail);
            return false;
        }

        // Remembers a market-rule failure and lets the pass go on: schema failures anywhere in the message come first.
        private void RuleFailure(string pointer, string rule, string detail, long position)
        {
            if (_ruleFailure is null || position < _ruleFailurePosition)
            {
                _ruleFailure = ValidationResult.Fail(MessageCode.SemanticFailure, pointer, rule, detail);
                _ruleFailurePosition = position;
            }
        }

        private readonly string NameForMessage()
        {
            var raw = _reader.ValueSpan;
            return Quote(raw.Length > 100 ? raw[..100] : raw);
        }

        private static string Pointer(FieldRule field, Where where, bool isItem) => where.Field(isItem ? null : field.Name);

        private static string Quote(ReadOnlySpan<byte> text) => System.Text.Encoding.UTF8.GetString(text.Length > 100 ? text[..100] : text);

        private static string Show(long unixSeconds) => MarketDateTime.Format(DateTimeOffset.FromUnixTimeSeconds(unixSeconds));

        private static string Expected(FieldRule field) => field.Kind switch
        {
            ValueKind.Boolean => "true or false",
            ValueKind.PeriodDuration => "the integer 30",
            ValueKind.Object => "an object",
            ValueKind.Array => "an array",
            _ => field.Nullable ? "a string or null" : "a string",
        };

        private static string Describe(JsonTokenType token) => token switch
        {
            JsonTokenType.StartObject => "an object",
            JsonTokenType.StartArray => "an array",
            JsonTokenType.String => "a string",
            JsonTokenType.Number => "a number",
            JsonTokenType.True or JsonTokenType.False => "a boolean",
            JsonTokenType.Null => "null",
            _ => token.ToString(),
        };
    }
}
