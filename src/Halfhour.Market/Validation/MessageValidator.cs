using System.Buffers;
using System.Collections.Frozen;
using System.Text;
using System.Text.Json;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Envelope;
using Halfhour.Market.Schemas;

namespace Halfhour.Market.Validation;

/// <summary>
/// The generic validator of every interface of the catalogue: envelope, payload schema of the message's
/// interface, event code and schema version, and the market rules every interface shares (MPAN check
/// digit, real date-times and dates). A dedicated validator can take over one interface (<see cref="UseFor"/>).
/// Thread-safe; one instance serves the whole backbone. Never throws on bad input: every problem is a result.
/// </summary>
public sealed class MessageValidator : IMessageValidator
{
    private const string S0Pointer = "/payload/CommonBlock/S0";

    private FrozenDictionary<string, IMessageValidator> _dedicated = FrozenDictionary<string, IMessageValidator>.Empty;

    /// <summary>A validator over <paramref name="catalogue"/> (default: the embedded specification) within <paramref name="limits"/>.</summary>
    public MessageValidator(InterfaceCatalogue? catalogue = null, ValidationLimits? limits = null)
    {
        Catalogue = catalogue ?? InterfaceCatalogue.Specification;
        Limits = limits ?? ValidationLimits.Default;
        if (Limits.MaxDepth is < 1 or > ValidationLimits.DepthCeiling)
        {
            throw new ArgumentOutOfRangeException(nameof(limits), $"MaxDepth must be between 1 and {ValidationLimits.DepthCeiling}.");
        }
    }

    /// <summary>The catalogue messages are validated against.</summary>
    public InterfaceCatalogue Catalogue { get; }

    /// <summary>The size and depth limits.</summary>
    public ValidationLimits Limits { get; }

    /// <summary>
    /// Hands every message whose S0.interfaceID is <paramref name="interfaceId"/> to <paramref name="dedicated"/>
    /// instead of the generic rules (e.g. IF-021's consumption validator). The envelope is still checked first
    /// (UTF-8, JSON, limits, a known interface, event code and schema version, and the facts of S0, S1, A0
    /// and M0 are filled); everything after that is the dedicated validator's job. A dedicated validator that
    /// wants the generic schema and rules as well holds its own <see cref="MessageValidator"/> without
    /// registrations and calls it first. Register at start-up; registering is safe but not cheap.
    /// </summary>
    public void UseFor(string interfaceId, IMessageValidator dedicated)
    {
        ArgumentNullException.ThrowIfNull(dedicated);
        if (!Catalogue.TryGet(interfaceId, out _))
        {
            throw new ArgumentException($"'{interfaceId}' is not an interface of the catalogue.", nameof(interfaceId));
        }

        lock (Catalogue)
        {
            var copy = new Dictionary<string, IMessageValidator>(_dedicated, StringComparer.Ordinal) { [interfaceId] = dedicated };
            _dedicated = copy.ToFrozenDictionary(StringComparer.Ordinal);
        }
    }

    /// <inheritdoc />
    public ValidationResult Validate(ReadOnlySpan<byte> utf8Message, MessageFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        facts.Reset();

        // A dedicated validator checks the whole message itself, envelope included: when the message says at
        // its very start which interface it is (as participants' systems write it), hand it over without the
        // envelope pass, which reads the whole message and would cost IF-021 two thirds of its throughput.
        if (_dedicated.Count > 0 && DedicatedByOpening(utf8Message) is { } direct)
        {
            return direct.Validate(utf8Message, facts);
        }

        return ValidateEnvelopeFirst(utf8Message, facts);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The batch's reader serves the message's first pass: a dedicated validator's when the message names its interface at
    /// its start, else the envelope scan, after which the interface's schema reads the message's bytes a second time.
    /// </remarks>
    public ValidationResult Validate(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8Document, MessageFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        facts.Reset();
        if (_dedicated.Count > 0 && DedicatedByOpening(reader) is { } direct)
        {
            return direct.Validate(ref reader, utf8Document, facts);
        }

        var header = default(MessageHeader);
        var failure = header.Scan(ref reader, utf8Document, facts, Limits, out var message);
        return failure ?? AfterEnvelope(ref header, utf8Document[message], facts);
    }

    /// <summary>The generic path: the envelope pass, dispatch on S0, then the dedicated validator or the interface's schema.</summary>
    private ValidationResult ValidateEnvelopeFirst(ReadOnlySpan<byte> utf8Message, MessageFacts facts)
    {
        var header = default(MessageHeader);
        var failure = header.Scan(utf8Message, facts, Limits);
        return failure ?? AfterEnvelope(ref header, utf8Message, facts);
    }

    /// <summary>What follows a passed envelope scan: dispatch on S0, then the dedicated validator or the interface's schema.</summary>
    private ValidationResult AfterEnvelope(ref MessageHeader header, ReadOnlySpan<byte> utf8Message, MessageFacts facts)
    {
        var failure = Dispatch(ref header, utf8Message, out var variant);
        if (failure is not null)
        {
            return failure;
        }

        facts.InterfaceId = variant!.InterfaceId;
        facts.EventCode = variant.EventCode;
        facts.SchemaVersion = Shared(variant.Event.SchemaVersions, header.SchemaVersionText.Utf8(utf8Message));
        if (_dedicated.TryGetValue(variant.InterfaceId, out var dedicated))
        {
            return dedicated.Validate(utf8Message, facts);
        }

        try
        {
            return SchemaEvaluator.ForThisThread().Evaluate(utf8Message, variant.Envelope);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // The header pass read the same bytes without complaint; this is a reader limit reached only by hostile input.
            return ValidationResult.Fail(MessageCode.MalformedMessage, "", "json:syntax", $"The message could not be read: {e.Message}");
        }
    }

    /// <summary>The dedicated validator of the interface <paramref name="message"/> names at its start (<see cref="DedicatedByOpening(Utf8JsonReader)"/>), or null.</summary>
    private IMessageValidator? DedicatedByOpening(ReadOnlySpan<byte> message)
    {
        var reader = new Utf8JsonReader(message, new JsonReaderOptions { MaxDepth = 8 });
        try
        {
            return reader.Read() ? DedicatedByOpening(reader) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// The dedicated validator of the interface the message names when it opens with <c>{"payload":{"CommonBlock":{"S0":{</c>
    /// and S0 names its interface before any nested value; null otherwise (the full envelope pass then decides). Reads a
    /// copy of <paramref name="reader"/>, which stands on the message's first token, and allocates nothing.
    /// </summary>
    private IMessageValidator? DedicatedByOpening(Utf8JsonReader reader)
    {
        Span<char> id = stackalloc char[LongestInterfaceId];
        return TryPeekInterfaceId(ref reader, id, out var length) && _dedicated.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(id[..length], out var dedicated)
            ? dedicated
            : null;
    }

    /// <summary>Reads S0.interfaceID into <paramref name="interfaceId"/> as <see cref="DedicatedByOpening(Utf8JsonReader)"/> describes; false when it cannot.</summary>
    private static bool TryPeekInterfaceId(ref Utf8JsonReader reader, scoped Span<char> interfaceId, out int length)
    {
        length = 0;
        try
        {
            if (reader.TokenType != JsonTokenType.StartObject ||
                !Expect(ref reader, "payload"u8) || !Expect(ref reader, "CommonBlock"u8) || !Expect(ref reader, "S0"u8))
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isInterfaceId = reader.ValueTextEquals("interfaceID"u8);
                if (!reader.Read())
                {
                    return false;
                }

                if (isInterfaceId)
                {
                    return reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped && reader.ValueSpan.Length <= interfaceId.Length &&
                           Ascii.ToUtf16(reader.ValueSpan, interfaceId, out length) == OperationStatus.Done;
                }

                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    return false;
                }
            }
        }
        catch (JsonException)
        {
        }

        return false;

        static bool Expect(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
            => reader.Read() && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals(name) &&
               reader.Read() && reader.TokenType == JsonTokenType.StartObject;
    }

    /// <summary>Interface IDs are at most 8 characters (DT-000); anything longer names no interface.</summary>
    private const int LongestInterfaceId = 16;

    private ValidationResult? Dispatch(ref MessageHeader header, ReadOnlySpan<byte> message, out PayloadVariant? variant)
    {
        variant = null;
        var failure = Present(header.CommonBlock, "/payload/CommonBlock", "the payload", "an object")
            ?? Present(header.S0, S0Pointer, "CommonBlock", "an object")
            ?? Present(header.InterfaceId, S0Pointer + "/interfaceID", "S0", "a string");
        if (failure is not null)
        {
            return failure;
        }

        var interfaceId = header.InterfaceIdText.Utf8(message);
        Span<char> idChars = stackalloc char[LongestInterfaceId];
        var variants = interfaceId.Length <= LongestInterfaceId && Ascii.ToUtf16(interfaceId, idChars, out var idLength) == OperationStatus.Done
            ? Catalogue.VariantsOf(idChars[..idLength])
            : [];
        if (variants.Length == 0)
        {
            return ValidationResult.Fail(MessageCode.UnknownInterface, S0Pointer + "/interfaceID", "catalogue:interface",
                $"{S0Pointer}/interfaceID names no interface of the catalogue (IF-001 … IF-065, REP-…); got {Shown(header.InterfaceIdText.ToText(message))}");
        }

        failure = Present(header.EventCode, S0Pointer + "/eventCode", "S0", "a string");
        if (failure is not null)
        {
            return failure;
        }

        var eventCode = header.EventCodeText.Utf8(message);
        foreach (var candidate in variants)
        {
            var code = candidate.EventCode;
            if (eventCode.Length == code.Length + 2 && eventCode[0] == '[' && eventCode[^1] == ']' && Ascii.Equals(eventCode[1..^1], code))
            {
                variant = candidate;
                break;
            }
        }

        if (variant is null)
        {
            return ValidationResult.Fail(MessageCode.UnknownEventOrVersion, S0Pointer + "/eventCode", "catalogue:event-code",
                $"{S0Pointer}/eventCode must be an event of {variants[0].InterfaceId} in brackets ({EventList(variants)}); got {Shown(header.EventCodeText.ToText(message))}");
        }

        failure = Present(header.SchemaVersion, S0Pointer + "/schemaVersion", "S0", "a string");
        if (failure is not null)
        {
            return failure;
        }

        if (Shared(variant.Event.SchemaVersions, header.SchemaVersionText.Utf8(message)) is null)
        {
            var versions = string.Join(", ", variant.Event.SchemaVersions);
            variant = null;
            return ValidationResult.Fail(MessageCode.UnknownEventOrVersion, S0Pointer + "/schemaVersion", "catalogue:schema-version",
                $"{S0Pointer}/schemaVersion must be a schema version of this event ({versions}); got {Shown(header.SchemaVersionText.ToText(message))}");
        }

        return null;
    }

    private static ValidationResult? Present(Presence presence, string pointer, string parent, string type) => presence switch
    {
        Presence.Missing => ValidationResult.Fail(MessageCode.SchemaFailure, pointer, "schema:required", $"{pointer} is required in {parent} but missing"),
        Presence.WrongType => ValidationResult.Fail(MessageCode.SchemaFailure, pointer, "schema:type", $"{pointer} must be {type}"),
        _ => null,
    };

    private static string? Shared(IReadOnlyList<string> known, ReadOnlySpan<byte> utf8)
    {
        foreach (var value in known)
        {
            if (Ascii.Equals(utf8, value))
            {
                return value;
            }
        }

        return null;
    }

    private static string Shown(string text) => text.Length <= 40 ? $"\"{text}\"" : $"\"{text[..40]}…\"";

    private static string EventList(PayloadVariant[] variants)
    {
        var names = new string[variants.Length];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = "[" + variants[i].EventCode + "]";
        }

        return string.Join(", ", names);
    }
}
