using System.Text.Json.Nodes;

namespace Halfhour.Market.Tests.Reference;

/// <summary>
/// The specification files the catalogue is checked against, found by walking up from the test binaries
/// to a folder that has <c>shared/reference</c> (e.g. /work/shared/reference next to the repository).
/// Not finding them is a failure, never a silent skip.
/// </summary>
public static class ReferenceFiles
{
    private static readonly Lazy<string> s_directory = new(Locate);
    private static readonly Lazy<JsonObject> s_specification = new(() => Load("dip-api-2.2.1.json").AsObject());
    private static readonly Lazy<JsonArray> s_catalogue = new(() => Load("mhhs-interface-catalogue.json").AsArray());

    public static string Directory => s_directory.Value;

    /// <summary>dip-api-2.2.1.json, parsed.</summary>
    public static JsonObject Specification => s_specification.Value;

    /// <summary>mhhs-interface-catalogue.json, parsed.</summary>
    public static JsonArray Catalogue => s_catalogue.Value;

    public static JsonObject Schemas => Specification["components"]!["schemas"]!.AsObject();

    private static JsonNode Load(string name) => JsonNode.Parse(File.ReadAllBytes(Path.Combine(Directory, name)))!;

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "reference");
            if (File.Exists(Path.Combine(candidate, "dip-api-2.2.1.json")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            $"The reference specification (shared/reference/dip-api-2.2.1.json) was not found above {AppContext.BaseDirectory}; " +
            "these tests check the catalogue against it and cannot run without it.");
    }
}
