using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Halfhour.Market.Tests.Consumption;

/// <summary>
/// The spec's own IF-021 schema, loaded from shared/reference/dip-api-2.2.1.json and evaluated by JsonSchema.Net:
/// the oracle the dedicated validator is checked against. OpenAPI 3.0's <c>nullable: true</c> becomes a type union
/// with null (and null joins an enum), which is what it means; the envelope requires <c>payload</c> and nothing else.
/// </summary>
internal static class SpecSchema
{
    private static readonly Lazy<JsonSchema> Schema = new(Load);

    public static bool Accepts(byte[] message)
    {
        using var document = JsonDocument.Parse(message);
        return Schema.Value.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.Flag }).IsValid;
    }

    public static string SpecPath()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "reference", "dip-api-2.2.1.json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("No folder above the test binaries holds shared/reference/dip-api-2.2.1.json.");
    }

    private static JsonSchema Load()
    {
        var spec = JsonNode.Parse(File.ReadAllText(SpecPath()))!;
        var schemas = spec["components"]!["schemas"]!.DeepClone();
        Rewrite(schemas);
        var root = new JsonObject
        {
            ["$schema"] = "https://json-schema.org/draft/2020-12/schema",
            ["type"] = "object",
            ["required"] = new JsonArray("payload"),
            ["additionalProperties"] = false,
            ["properties"] = new JsonObject { ["payload"] = new JsonObject { ["$ref"] = "#/components/schemas/IF-021-Payload" } },
            ["components"] = new JsonObject { ["schemas"] = schemas },
        };
        return JsonSchema.FromText(root.ToJsonString(), baseUri: new Uri("https://halfhour.test/if-021-" + Guid.NewGuid().ToString("N")));
    }

    private static void Rewrite(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                if (o["nullable"] is JsonValue n && n.GetValue<bool>() && o["type"] is JsonValue t)
                {
                    o["type"] = new JsonArray(t.GetValue<string>(), "null");
                    if (o["enum"] is JsonArray values)
                    {
                        values.Add(null);
                    }
                }

                o.Remove("nullable");
                o.Remove("example");
                foreach (var (_, child) in o.ToList())
                {
                    Rewrite(child);
                }

                break;
            case JsonArray a:
                foreach (var child in a)
                {
                    Rewrite(child);
                }

                break;
        }
    }
}
