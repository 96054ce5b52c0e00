using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Halfhour.Market.Tests.Reference;

/// <summary>
/// The specification's own DIPMessage schema (top-level oneOf over every interface's payload), turned from
/// OpenAPI 3.0 into JSON Schema 2020-12 for JsonSchema.Net: component references become $defs, and
/// <c>nullable: true</c> admits null (added to the type, and to the enumeration when there is one — the
/// same reading the product takes). Nothing else is changed; descriptions and examples are dropped as prose.
/// </summary>
public static class SpecificationSchema
{
    private static readonly Lazy<JsonObject> s_defs = new(ConvertAll);
    private static readonly Lazy<JsonSchema> s_message = new(Build);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, JsonSchema> s_payloads = new(StringComparer.Ordinal);

    /// <summary>The specification's DIPMessage as an evaluable schema.</summary>
    public static JsonSchema Message => s_message.Value;

    /// <summary>True when the specification's schema accepts <paramref name="utf8Message"/>.</summary>
    public static bool Accepts(byte[] utf8Message)
    {
        using var document = JsonDocument.Parse(utf8Message);
        return Message.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.Flag }).IsValid;
    }

    /// <summary>
    /// True when <paramref name="utf8Message"/> is <c>{"payload": …}</c> and nothing else, its payload valid against the
    /// specification's schema <paramref name="payloadSchema"/> (e.g. <c>IF-021-Payload</c>): the oracle of a dedicated validator.
    /// </summary>
    public static bool AcceptsPayload(string payloadSchema, byte[] utf8Message)
    {
        var schema = s_payloads.GetOrAdd(payloadSchema, name => FromRoot(new JsonObject
        {
            ["type"] = "object",
            ["required"] = new JsonArray("payload"),
            ["additionalProperties"] = false,
            ["properties"] = new JsonObject { ["payload"] = new JsonObject { ["$ref"] = "#/$defs/" + name } },
        }, "payload/" + name));
        using var document = JsonDocument.Parse(utf8Message);
        return schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.Flag }).IsValid;
    }

    private static JsonObject ConvertAll()
    {
        var defs = new JsonObject();
        foreach (var (name, schema) in ReferenceFiles.Schemas)
        {
            defs[name] = Convert(schema!);
        }

        return defs;
    }

    private static JsonSchema Build() => FromRoot(new JsonObject { ["$ref"] = "#/$defs/DIPMessage" }, "message");

    private static JsonSchema FromRoot(JsonObject root, string name)
    {
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        root["$defs"] = s_defs.Value.DeepClone();
        return JsonSchema.FromText(root.ToJsonString(), baseUri: new Uri("https://halfhour.test/dip-api-2.2.1/" + name));
    }

    private static JsonNode? Convert(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                if (obj["$ref"] is { } reference)
                {
                    // OpenAPI 3.0: the siblings of $ref are ignored.
                    return new JsonObject { ["$ref"] = reference.GetValue<string>().Replace("#/components/schemas/", "#/$defs/", StringComparison.Ordinal) };
                }

                var result = new JsonObject();
                var nullable = obj["nullable"] is JsonValue n && n.GetValue<bool>();
                foreach (var (key, value) in obj)
                {
                    switch (key)
                    {
                        case "nullable" or "description" or "example":
                            continue;
                        case "properties":
                            var properties = new JsonObject();
                            foreach (var (name, property) in value!.AsObject())
                            {
                                properties[name] = Convert(property!);
                            }

                            result[key] = properties;
                            break;
                        case "type" when nullable:
                            result[key] = new JsonArray(value!.GetValue<string>(), "null");
                            break;
                        case "enum" when nullable:
                            var values = (JsonArray)value!.DeepClone();
                            values.Add(null);
                            result[key] = values;
                            break;
                        case "items" or "additionalProperties" when value is JsonObject:
                            result[key] = Convert(value);
                            break;
                        case "oneOf" or "allOf" or "anyOf":
                            var branches = new JsonArray();
                            foreach (var branch in value!.AsArray())
                            {
                                branches.Add(Convert(branch!));
                            }

                            result[key] = branches;
                            break;
                        default:
                            result[key] = value?.DeepClone();
                            break;
                    }
                }

                return result;
            default:
                return node.DeepClone();
        }
    }
}
