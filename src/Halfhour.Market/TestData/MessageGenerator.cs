using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Participants;
using Halfhour.Market.Rules;
using Halfhour.Market.Schemas;

namespace Halfhour.Market.TestData;

/// <summary>
/// Generates realistic valid messages for any payload variant, deterministically from a seed: every
/// field the schema defines is present (so every rule can be exercised), values satisfy their type,
/// lengths, pattern and enumeration, MPAN cores carry their check digit, date-times are real, and the
/// sender, recipients and distributor are participants of a <see cref="SyntheticMarket"/> holding the
/// roles the catalogue names. Not for hot paths: it builds a <see cref="JsonObject"/>.
/// </summary>
public sealed class MessageGenerator
{
    /// <summary>The first day generated timestamps fall on: inside MHHS's live period, so data reads as plausible.</summary>
    private static readonly DateTimeOffset s_firstDay = new(2025, 6, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Generated timestamps spread over this many days after <see cref="s_firstDay"/>.</summary>
    private const int DaySpread = 365;

    /// <summary>The largest array generated: two items show an array is an array without bloating messages.</summary>
    private const int MostItems = 2;

    /// <summary>JSON written as participants write it: '+' and non-ASCII letters as themselves, not as \u escapes.</summary>
    internal static readonly JsonSerializerOptions WireOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly InterfaceCatalogue _catalogue;

    /// <summary>A generator over <paramref name="catalogue"/> (default: the specification) for <paramref name="market"/> (default: a DEV synthetic market).</summary>
    public MessageGenerator(InterfaceCatalogue? catalogue = null, SyntheticMarket? market = null)
    {
        _catalogue = catalogue ?? InterfaceCatalogue.Specification;
        Market = market ?? new SyntheticMarket();
    }

    /// <summary>The market whose participants send and receive the generated messages.</summary>
    public SyntheticMarket Market { get; }

    /// <summary>A valid message of <paramref name="variant"/> as a JSON tree, the same for the same seed.</summary>
    public JsonObject Generate(PayloadVariant variant, int seed, string? schemaVersion = null)
    {
        ArgumentNullException.ThrowIfNull(variant);
        var context = new Context(this, variant, new Random(seed), schemaVersion ?? variant.Event.SchemaVersions[^1]);
        var payload = (JsonObject)context.Value(variant.Payload, "payload")!;
        return new JsonObject { ["payload"] = payload };
    }

    /// <summary>A valid message of <paramref name="variant"/> as UTF-8 JSON, the same for the same seed.</summary>
    public byte[] GenerateUtf8(PayloadVariant variant, int seed, string? schemaVersion = null) =>
        ToUtf8(Generate(variant, seed, schemaVersion));

    /// <summary>Writes a message tree as UTF-8 JSON the way participants write it.</summary>
    public static byte[] ToUtf8(JsonNode message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return Encoding.UTF8.GetBytes(message.ToJsonString(WireOptions));
    }

    /// <summary>An MPAN core with a right check digit, drawn from <paramref name="random"/>.</summary>
    public static string Mpan(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Span<char> digits = stackalloc char[MpanCore.Length];
        digits[0] = (char)('1' + random.Next(9));
        for (var i = 1; i < MpanCore.Length - 1; i++)
        {
            digits[i] = (char)('0' + random.Next(10));
        }

        digits[^1] = (char)('0' + MpanCore.CheckDigit(digits[..^1]));
        return new string(digits);
    }

    /// <summary>A real instant in the DIP's 25-character form, drawn from <paramref name="random"/>.</summary>
    public static string DateTimeValue(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return MarketDateTime.Format(s_firstDay.AddDays(random.Next(DaySpread)).AddMinutes(30 * random.Next(48)));
    }

    private sealed class Context(MessageGenerator generator, PayloadVariant variant, Random random, string schemaVersion)
    {
        private readonly Participant _sender = generator.Market.Holding(variant.Interface.SendingRoles[random.Next(variant.Interface.SendingRoles.Count)]);
        private readonly Participant _recipient = generator.Market.Holding(variant.Interface.ReceivingRoles[random.Next(variant.Interface.ReceivingRoles.Count)]);
        private readonly Participant _distributor = generator.Market.Holding(Role.LDSO);

        public JsonNode? Value(SchemaNode s, string name, string? block = null)
        {
            if (block is not null && Known(name, block, out var known))
            {
                return known;
            }

            if (s.Types == JsonKinds.Object || (s.Types == JsonKinds.None && s.Properties.Length > 0))
            {
                var result = new JsonObject();
                foreach (var property in s.Properties)
                {
                    // D0 is stamped by the backbone on the way out; a sender never writes it.
                    if (property.Name == "D0" && name == "CommonBlock")
                    {
                        continue;
                    }

                    result[property.Name] = Value(property.Schema, property.Name, name is "S0" or "S1" or "A0" or "M0" ? name : null);
                }

                return result;
            }

            if (s.Nullable && s.Types != JsonKinds.Object && random.Next(10) == 0)
            {
                return null;
            }

            switch (s.Types)
            {
                case JsonKinds.Array:
                    var array = new JsonArray();
                    var count = Math.Min(Math.Max(s.MinItems, 1 + random.Next(MostItems)), s.MaxItems);
                    for (var i = 0; i < count; i++)
                    {
                        array.Add(Value(s.Items!, name));
                    }

                    return array;
                case JsonKinds.Boolean:
                    return random.Next(2) == 0;
                case JsonKinds.Integer:
                case JsonKinds.Number:
                    return Number(s);
                case JsonKinds.String:
                    return String(s);
                default:
                    return "untyped";
            }
        }

        /// <summary>The fields whose values follow from the variant and the market, not from their schema alone.</summary>
        private bool Known(string name, string block, out JsonNode? value)
        {
            value = (block, name) switch
            {
                ("S0", "interfaceID") => variant.InterfaceId,
                ("S0", "eventCode") => "[" + variant.EventCode + "]",
                ("S0", "schemaVersion") => schemaVersion,
                ("S1", "environmentTag") => generator.Market.Environment.ToString(),
                ("S1", "senderUniqueReference") => UniqueReference(),
                ("S1", "senderDIPID") => _sender.DipId,
                ("S1", "senderRoleID") => _sender.Role.ToString(),
                ("S1", "senderCorrelationID") => random.Next(2) == 0 ? null : "C-" + random.Next().ToString("x8", CultureInfo.InvariantCulture),
                ("A0", "primaryRecipients") => new JsonArray(_recipient.DipId),
                ("A0", "secondaryRecipients") => new JsonArray(),
                ("A0", "always") => new JsonArray(),
                ("M0", "distributorDIPID") => _distributor.DipId,
                _ => null,
            };
            return value is not null || (block, name) is ("S1", "senderCorrelationID") or ("S1", "DIPConnectionProviderID") or ("S1", "subText");
        }

        private string UniqueReference() =>
            $"S-{variant.InterfaceId}-{_sender.DipId}-{_sender.Role}-{s_firstDay.AddDays(random.Next(DaySpread)):yyyyMMdd}-{random.Next():x8}";

        private JsonNode Number(SchemaNode s)
        {
            var low = s.Minimum ?? 0;
            var high = s.Maximum ?? low + 1000;
            if (s.MultipleOf is { } step)
            {
                var multiple = decimal.Ceiling(low / step) * step;
                return s.Types == JsonKinds.Integer ? (long)multiple : multiple;
            }

            var span = (double)Math.Min(high - low, 1_000_000m);
            var value = low + (decimal)(random.NextDouble() * span);
            return s.Types == JsonKinds.Integer ? (long)decimal.Floor(value) : decimal.Round(value, 2);
        }

        private string String(SchemaNode s)
        {
            switch (s.Rule)
            {
                case SemanticRule.Mpan:
                    return Mpan(random);
                case SemanticRule.DateTime:
                    return DateTimeValue(random);
                case SemanticRule.Date:
                    return s_firstDay.AddDays(random.Next(DaySpread)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            }

            if (s.EnumText is not null)
            {
                return s.EnumText[random.Next(s.EnumText.Length)];
            }

            if (s.Name is "DT-006-DIPParticipantID" or "DT-006N-DIPParticipantID")
            {
                return _recipient.DipId;
            }

            if (s.Pattern is not null)
            {
                for (var attempt = 0; attempt < 20; attempt++)
                {
                    var candidate = PatternValues.Choose(s.PatternText!, random);
                    var length = candidate.Length;
                    if (length >= s.MinLength && length <= s.MaxLength && s.Pattern.IsMatch(candidate))
                    {
                        return candidate;
                    }
                }

                throw new InvalidOperationException($"No value of pattern {s.PatternText} fits lengths {s.MinLength}..{s.MaxLength}.");
            }

            var size = Math.Max(s.MinLength, 1);
            size = Math.Min(size + random.Next(8), Math.Min(s.MaxLength, Math.Max(size, 12)));
            var chars = new char[size];
            for (var i = 0; i < size; i++)
            {
                chars[i] = (char)(i % 3 == 2 ? '0' + random.Next(10) : 'A' + random.Next(26));
            }

            return new string(chars);
        }
    }
}
