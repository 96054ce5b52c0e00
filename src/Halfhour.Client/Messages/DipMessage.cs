using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Halfhour.Client.Messages;

/// <summary>
/// One DIP message, <c>{"payload": {"CommonBlock": {...}, "CustomBlock": {...}}}</c>, as a JSON tree with typed
/// access to the common block: what a participant's code reads from a message it received and what the builders
/// produce. Not thread-safe while it is being changed.
/// </summary>
public sealed class DipMessage
{
    /// <summary>JSON written as the DIP's participants write it: '+' and non-ASCII letters as themselves, not as \u escapes.</summary>
    private static readonly JsonSerializerOptions s_wire = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Wraps a message tree; it must be an object with a <c>payload</c> object.</summary>
    public DipMessage(JsonObject json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json["payload"] is not JsonObject)
        {
            throw new FormatException("A DIP message is {\"payload\": {\"CommonBlock\": …, \"CustomBlock\": …}}; this JSON has no payload object.");
        }

        Json = json;
    }

    /// <summary>The whole message as a JSON tree.</summary>
    public JsonObject Json { get; }

    /// <summary>The payload's common block (S0, S1, A0, M0 and, once stamped, D0).</summary>
    public JsonObject CommonBlock => Json["payload"]!["CommonBlock"] as JsonObject ?? throw new FormatException("The message has no CommonBlock object.");

    /// <summary>The payload's custom block: the interface's own data items.</summary>
    public JsonObject? CustomBlock => Json["payload"]!["CustomBlock"] as JsonObject;

    /// <summary>S0.interfaceID, e.g. <c>IF-021</c>: also the channel the message is sent on.</summary>
    public string? InterfaceId => Text("S0", "interfaceID");

    /// <summary>S0.eventCode, e.g. <c>[ActivePower]</c>.</summary>
    public string? EventCode => Text("S0", "eventCode");

    /// <summary>S0.schemaVersion, e.g. <c>011</c>.</summary>
    public string? SchemaVersion => Text("S0", "schemaVersion");

    /// <summary>S1.senderUniqueReference: what the backbone de-duplicates on.</summary>
    public string? SenderUniqueReference => Text("S1", "senderUniqueReference");

    /// <summary>S1.senderDIPID.</summary>
    public string? SenderDipId => Text("S1", "senderDIPID");

    /// <summary>S1.senderRoleID.</summary>
    public string? SenderRole => Text("S1", "senderRoleID");

    /// <summary>S1.environmentTag.</summary>
    public string? EnvironmentTag => Text("S1", "environmentTag");

    /// <summary>S1.senderCorrelationID.</summary>
    public string? CorrelationId => Text("S1", "senderCorrelationID");

    /// <summary>M0.MPANCore, for interfaces about one metering point.</summary>
    public string? Mpan => Text("M0", "MPANCore");

    /// <summary>D0.transactionID, stamped by the backbone: null on a message not yet accepted.</summary>
    public string? TransactionId => Text("D0", "transactionID");

    /// <summary>D0.transactionTimestamp, when the backbone accepted the message.</summary>
    public DateTimeOffset? TransactionTimestamp =>
        Text("D0", "transactionTimestamp") is { } text && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) ? at : null;

    /// <summary>D0.replayIndicator: true when this copy was delivered again by a replay or requeue.</summary>
    public bool IsReplay => CommonBlock["D0"]?["replayIndicator"] is JsonValue v && v.TryGetValue<bool>(out var replay) && replay;

    /// <summary>Parses one message from UTF-8 JSON.</summary>
    public static DipMessage Parse(ReadOnlySpan<byte> utf8Json) =>
        JsonNode.Parse(utf8Json) is JsonObject o ? new DipMessage(o) : throw new FormatException("A DIP message is a JSON object {\"payload\": …}.");

    /// <summary>Parses one message from a JSON element (e.g. a message inside a fetched array); the element's document may be disposed afterwards.</summary>
    public static DipMessage From(JsonElement element) =>
        JsonObject.Create(element.Clone()) is { } o ? new DipMessage(o) : throw new FormatException("A DIP message is a JSON object {\"payload\": …}.");

    /// <summary>Parses UTF-8 JSON holding one message or a DIP array of messages.</summary>
    public static IReadOnlyList<DipMessage> ParseMany(ReadOnlySpan<byte> utf8Json)
    {
        return JsonNode.Parse(utf8Json) switch
        {
            JsonObject one => [new DipMessage(one)],
            JsonArray many => [.. many.Select((m, i) => m is JsonObject o ? new DipMessage(o) : throw new FormatException($"Item {i} of the array is not a JSON object {{\"payload\": …}}."))],
            _ => throw new FormatException("Expected a DIP message {\"payload\": …} or an array of them."),
        };
    }

    /// <summary>The message as UTF-8 JSON, compact, as it travels.</summary>
    public byte[] ToUtf8() => Encoding.UTF8.GetBytes(Json.ToJsonString(s_wire));

    /// <summary>The message as compact JSON text.</summary>
    public override string ToString() => Json.ToJsonString(s_wire);

    private string? Text(string block, string field) =>
        CommonBlock[block]?[field] is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
}
