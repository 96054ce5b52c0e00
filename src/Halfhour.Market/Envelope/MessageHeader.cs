using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Halfhour.Market.Participants;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Envelope;

/// <summary>What the header scan found of the parts of a message that dispatch depends on.</summary>
internal enum Presence : byte
{
    Missing,
    Present,
    WrongType,
}

/// <summary>
/// The first of the two passes over a message: proves it is UTF-8, well-formed JSON within the size and
/// depth limits, a <c>{"payload":{…}}</c> object, and reads the common block's facts (S0, S1, A0, M0 or M1)
/// wherever they appear, so the second pass can be given the right schema. In a batch it runs on the batch's own
/// reader, so the array's read and this pass are one. Reads every token once;
/// allocates only the fact strings the backbone keeps (identifiers from the catalogue are shared, not copied).
/// </summary>
internal ref struct MessageHeader
{
    public Presence Payload;
    public Presence CommonBlock;
    public Presence S0;
    public Presence InterfaceId;
    public Presence EventCode;
    public Presence SchemaVersion;
    public WireText InterfaceIdText;
    public WireText EventCodeText;
    public WireText SchemaVersionText;
    public bool RootIsObject;

    private enum Place : byte
    {
        Other,
        Root,
        Payload,
        CommonBlock,
        S0,
        S1,
        A0,
        M0,
        M1,
        PrimaryRecipients,
        Field,
    }

    private static readonly string[] s_environments = Enum.GetNames<MarketEnvironment>();
    private static readonly string[] s_roles = Enum.GetNames<Role>();

    /// <summary>Scans <paramref name="utf8"/>; null when the scan passed, else the envelope failure.</summary>
    public ValidationResult? Scan(ReadOnlySpan<byte> utf8, MessageFacts facts, ValidationLimits limits)
    {
        var failure = SizeOrEncoding(utf8, limits);
        if (failure is not null)
        {
            return failure;
        }

        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = ValidationLimits.DepthCeiling + 2 });
        try
        {
            failure = reader.Read() ? ScanValue(ref reader, 0, facts, limits) : null;
            if (failure is not null)
            {
                return failure;
            }

            // A second value after the message makes the reader throw (malformed).
            while (reader.Read())
            {
            }
        }
        catch (JsonException e)
        {
            return ValidationResult.Fail(MessageCode.MalformedMessage, "", "json:syntax",
                $"The message is not well-formed JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): fix the syntax and resend.");
        }
        catch (InvalidOperationException)
        {
            return UnreadableString;
        }

        return PayloadVerdict();
    }

    /// <summary>
    /// Scans the message <paramref name="reader"/> stands on (its first token) within <paramref name="document"/>, on that
    /// reader, and leaves it on the message's last token, with <paramref name="message"/> its bytes: the verdict and facts of
    /// <see cref="Scan(ReadOnlySpan{byte}, MessageFacts, ValidationLimits)"/> over those bytes, whose size and encoding are
    /// judged first, as there. A <see cref="JsonException"/> (the document is not well-formed there) propagates.
    /// </summary>
    public ValidationResult? Scan(ref Utf8JsonReader reader, ReadOnlySpan<byte> document, MessageFacts facts, ValidationLimits limits, out Range message)
    {
        var start = reader.TokenStartIndex;
        var depth = reader.CurrentDepth;
        ValidationResult? failure;
        try
        {
            failure = ScanValue(ref reader, start, facts, limits);
        }
        catch (InvalidOperationException)
        {
            failure = UnreadableString;
        }

        MessageBatch.SkipRestOfMessage(ref reader, start, depth);
        message = new Range((int)start, (int)reader.BytesConsumed);
        if (SizeOrEncoding(document[message], limits) is { } early)
        {
            // Judged before anything is read when the message is scanned from its bytes: nothing read counts.
            facts.Reset();
            return early;
        }

        return failure ?? PayloadVerdict();
    }

    private static ValidationResult? SizeOrEncoding(ReadOnlySpan<byte> utf8, ValidationLimits limits)
    {
        if (utf8.Length > limits.MaxMessageBytes)
        {
            return ValidationResult.Fail(MessageCode.LimitExceeded, "", "limit:size",
                $"The message is {utf8.Length} bytes; at most {limits.MaxMessageBytes} are accepted. Split the data over several messages.");
        }

        return Utf8.IsValid(utf8) ? null : ValidationResult.Fail(MessageCode.MalformedMessage, "", "json:utf8", "The message is not valid UTF-8; send it encoded as UTF-8.");
    }

    private static readonly ValidationResult UnreadableString = ValidationResult.Fail(MessageCode.MalformedMessage, "", "json:string",
        "The message holds a string that cannot be read as text (an invalid escape such as a lone surrogate).");

    private readonly ValidationResult? PayloadVerdict() => Payload == Presence.Present
        ? null
        : ValidationResult.Fail(MessageCode.MalformedMessage, RootIsObject ? "/payload" : "", "envelope:payload",
            "A message is a JSON object {\"payload\":{\"CommonBlock\":{…},\"CustomBlock\":{…}}}; this one is not.");

    /// <summary>
    /// Reads the value whose first token the reader stands on, through its last token, noting what dispatch needs and
    /// filling the facts; string positions are kept relative to <paramref name="origin"/>, where the message starts.
    /// </summary>
    private ValidationResult? ScanValue(ref Utf8JsonReader reader, long origin, MessageFacts facts, ValidationLimits limits)
    {
        Span<Place> places = stackalloc Place[ValidationLimits.DepthCeiling + 2];
        var depth = -1;
        var next = Place.Root;
        var field = MessageFact.None;
        do
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    if (depth + 1 >= limits.MaxDepth)
                    {
                        return ValidationResult.Fail(MessageCode.LimitExceeded, "", "limit:depth",
                            $"The message nests objects and arrays deeper than {limits.MaxDepth} levels; no interface needs that many.");
                    }

                    var isObject = reader.TokenType == JsonTokenType.StartObject;
                    RootIsObject |= depth == -1 && isObject;
                    Saw(next, field, isObject ? Presence.Present : Presence.WrongType);
                    places[++depth] = isObject || next == Place.PrimaryRecipients ? next : Place.Other;
                    next = Place.Other;
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    depth--;
                    break;
                case JsonTokenType.PropertyName:
                    (next, field) = Classify(places[depth], ref reader);
                    break;
                case JsonTokenType.String:
                    if (next == Place.Field)
                    {
                        Capture(field, ref reader, origin, facts);
                    }
                    else if (depth >= 0 && places[depth] == Place.PrimaryRecipients)
                    {
                        facts.PrimaryRecipients.Add(reader.GetString()!);
                    }
                    else
                    {
                        Saw(next, field, Presence.WrongType);
                    }

                    next = Place.Other;
                    break;
                default:
                    Saw(next, field, Presence.WrongType);
                    next = Place.Other;
                    break;
            }
        }
        while (depth >= 0 && reader.Read());

        return null;
    }

    private void Saw(Place place, MessageFact field, Presence presence)
    {
        if (place == Place.Field)
        {
            MarkField(field, presence);
        }
        else
        {
            Mark(place, presence);
        }
    }

    private void Mark(Place place, Presence presence)
    {
        switch (place)
        {
            case Place.Payload:
                Payload = presence;
                break;
            case Place.CommonBlock:
                CommonBlock = presence;
                break;
            case Place.S0:
                S0 = presence;
                break;
        }
    }

    private void MarkField(MessageFact field, Presence presence)
    {
        switch (field)
        {
            case MessageFact.InterfaceId:
                InterfaceId = presence;
                break;
            case MessageFact.EventCode:
                EventCode = presence;
                break;
            case MessageFact.SchemaVersion:
                SchemaVersion = presence;
                break;
        }
    }

    private static (Place Next, MessageFact Field) Classify(Place container, ref Utf8JsonReader r)
    {
        return container switch
        {
            Place.Root when r.ValueTextEquals("payload"u8) => (Place.Payload, MessageFact.None),
            Place.Payload when r.ValueTextEquals("CommonBlock"u8) => (Place.CommonBlock, MessageFact.None),
            Place.CommonBlock when r.ValueTextEquals("S0"u8) => (Place.S0, MessageFact.None),
            Place.CommonBlock when r.ValueTextEquals("S1"u8) => (Place.S1, MessageFact.None),
            Place.CommonBlock when r.ValueTextEquals("A0"u8) => (Place.A0, MessageFact.None),
            Place.CommonBlock when r.ValueTextEquals("M0"u8) => (Place.M0, MessageFact.None),
            Place.CommonBlock when r.ValueTextEquals("M1"u8) => (Place.M1, MessageFact.None),
            Place.S0 => FieldOf(ref r, "interfaceID"u8, MessageFact.InterfaceId, "eventCode"u8, MessageFact.EventCode, "schemaVersion"u8, MessageFact.SchemaVersion),
            Place.S1 when r.ValueTextEquals("environmentTag"u8) => (Place.Field, MessageFact.EnvironmentTag),
            Place.S1 when r.ValueTextEquals("senderUniqueReference"u8) => (Place.Field, MessageFact.SenderUniqueReference),
            Place.S1 when r.ValueTextEquals("senderTimestamp"u8) => (Place.Field, MessageFact.SenderTimestamp),
            Place.S1 when r.ValueTextEquals("senderDIPID"u8) => (Place.Field, MessageFact.SenderDipId),
            Place.S1 when r.ValueTextEquals("senderRoleID"u8) => (Place.Field, MessageFact.SenderRoleId),
            Place.S1 when r.ValueTextEquals("senderCorrelationID"u8) => (Place.Field, MessageFact.SenderCorrelationId),
            Place.A0 when r.ValueTextEquals("primaryRecipients"u8) => (Place.PrimaryRecipients, MessageFact.None),
            Place.M0 => FieldOf(ref r, "MPANCore"u8, MessageFact.Mpan, "distributorDIPID"u8, MessageFact.DistributorDipId, "GSPGroupID"u8, MessageFact.GspGroupId),
            Place.M1 => FieldOf(ref r, "principalMPAN"u8, MessageFact.Mpan, "distributorDIPID"u8, MessageFact.DistributorDipId, "GSPGroupID"u8, MessageFact.GspGroupId),
            _ => (Place.Other, MessageFact.None),
        };
    }

    private static (Place, MessageFact) FieldOf(ref Utf8JsonReader r, ReadOnlySpan<byte> a, MessageFact fa, ReadOnlySpan<byte> b, MessageFact fb, ReadOnlySpan<byte> c, MessageFact fc) =>
        r.ValueTextEquals(a) ? (Place.Field, fa) : r.ValueTextEquals(b) ? (Place.Field, fb) : r.ValueTextEquals(c) ? (Place.Field, fc) : (Place.Other, MessageFact.None);

    private void Capture(MessageFact field, ref Utf8JsonReader r, long origin, MessageFacts facts)
    {
        MarkField(field, Presence.Present);
        switch (field)
        {
            case MessageFact.InterfaceId:
                InterfaceIdText = WireText.At(ref r, origin);
                break;
            case MessageFact.EventCode:
                EventCodeText = WireText.At(ref r, origin);
                break;
            case MessageFact.SchemaVersion:
                SchemaVersionText = WireText.At(ref r, origin);
                break;
            case MessageFact.EnvironmentTag:
                facts.EnvironmentTag = Shared(ref r, s_environments);
                break;
            case MessageFact.SenderRoleId:
                facts.SenderRoleId = Shared(ref r, s_roles);
                break;
            default:
                facts.Set(field, r.GetString());
                break;
        }
    }

    /// <summary>One of a few known values without allocating, or a new string when it is none of them.</summary>
    private static string Shared(ref Utf8JsonReader r, string[] known)
    {
        foreach (var value in known)
        {
            if (r.ValueTextEquals(value))
            {
                return value;
            }
        }

        return r.GetString()!;
    }
}

/// <summary>
/// A string value of the message, found without copying it: where its UTF-8 stands in the message, or,
/// when it was written with escapes (rare), its unescaped UTF-8.
/// </summary>
internal readonly record struct WireText(int Start, int Length, byte[]? Unescaped)
{
    /// <summary>The string value the reader stands on, in a message that starts at <paramref name="origin"/> of what the reader reads.</summary>
    public static WireText At(ref Utf8JsonReader r, long origin) => r.ValueIsEscaped
        ? new WireText(0, 0, Encoding.UTF8.GetBytes(r.GetString()!))
        : new WireText((int)(r.TokenStartIndex - origin) + 1, r.ValueSpan.Length, null);

    /// <summary>The value's UTF-8.</summary>
    public ReadOnlySpan<byte> Utf8(ReadOnlySpan<byte> message) => Unescaped ?? message.Slice(Start, Length);

    /// <summary>The value as text (allocates; for failure sentences).</summary>
    public string ToText(ReadOnlySpan<byte> message) => Encoding.UTF8.GetString(Utf8(message));
}
