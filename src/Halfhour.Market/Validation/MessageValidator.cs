using System.Collections.Frozen;
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
    }

    /// <summary>The catalogue messages are validated against.</summary>
    public InterfaceCatalogue Catalogue { get; }

    /// <summary>The size and depth limits.</summary>
    public ValidationLimits Limits { get; }

    /// <summary>
    /// Hands every message whose S0.interfaceID is <paramref name="interfaceId"/> to <paramref name="dedicated"/>
    /// instead of the generic rules (e.g. IF-021's consumption validator). The envelope is still checked first
    /// (UTF-8, JSON, limits, a known interface); everything after that is the dedicated validator's job.
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
        var header = default(MessageHeader);
        var failure = header.Scan(utf8Message, facts, Limits);
        if (failure is not null)
        {
            return failure;
        }

        failure = Dispatch(ref header, out var variant);
        if (failure is not null)
        {
            return failure;
        }

        facts.InterfaceId = variant!.InterfaceId;
        facts.EventCode = variant.EventCode;
        facts.SchemaVersion = Shared(variant.Event.SchemaVersions, header.SchemaVersionText!);
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

    private ValidationResult? Dispatch(ref MessageHeader header, out PayloadVariant? variant)
    {
        variant = null;
        var failure = Present(header.CommonBlock, "/payload/CommonBlock", "the payload", "an object")
            ?? Present(header.S0, S0Pointer, "CommonBlock", "an object")
            ?? Present(header.InterfaceId, S0Pointer + "/interfaceID", "S0", "a string");
        if (failure is not null)
        {
            return failure;
        }

        var variants = Catalogue.VariantsOf(header.InterfaceIdText);
        if (variants.Length == 0)
        {
            return ValidationResult.Fail(MessageCode.UnknownInterface, S0Pointer + "/interfaceID", "catalogue:interface",
                $"{S0Pointer}/interfaceID names no interface of the catalogue (IF-001 … IF-065, REP-…); got {Shown(header.InterfaceIdText!)}");
        }

        failure = Present(header.EventCode, S0Pointer + "/eventCode", "S0", "a string");
        if (failure is not null)
        {
            return failure;
        }

        var eventCode = header.EventCodeText.AsSpan();
        foreach (var candidate in variants)
        {
            var code = candidate.EventCode;
            if (eventCode.Length == code.Length + 2 && eventCode[0] == '[' && eventCode[^1] == ']' && eventCode[1..^1].SequenceEqual(code))
            {
                variant = candidate;
                break;
            }
        }

        if (variant is null)
        {
            return ValidationResult.Fail(MessageCode.UnknownEventOrVersion, S0Pointer + "/eventCode", "catalogue:event-code",
                $"{S0Pointer}/eventCode must be an event of {variants[0].InterfaceId} in brackets ({EventList(variants)}); got {Shown(header.EventCodeText!)}");
        }

        failure = Present(header.SchemaVersion, S0Pointer + "/schemaVersion", "S0", "a string");
        if (failure is not null)
        {
            return failure;
        }

        if (Shared(variant.Event.SchemaVersions, header.SchemaVersionText!) is null)
        {
            var versions = string.Join(", ", variant.Event.SchemaVersions);
            variant = null;
            return ValidationResult.Fail(MessageCode.UnknownEventOrVersion, S0Pointer + "/schemaVersion", "catalogue:schema-version",
                $"{S0Pointer}/schemaVersion must be a schema version of this event ({versions}); got {Shown(header.SchemaVersionText!)}");
        }

        return null;
    }

    private static ValidationResult? Present(Presence presence, string pointer, string parent, string type) => presence switch
    {
        Presence.Missing => ValidationResult.Fail(MessageCode.SchemaFailure, pointer, "schema:required", $"{pointer} is required in {parent} but missing"),
        Presence.WrongType => ValidationResult.Fail(MessageCode.SchemaFailure, pointer, "schema:type", $"{pointer} must be {type}"),
        _ => null,
    };

    private static string? Shared(IReadOnlyList<string> known, string text)
    {
        foreach (var value in known)
        {
            if (value == text)
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
