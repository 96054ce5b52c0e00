using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Halfhour.Market.Schemas;

namespace Halfhour.Market.Catalogue;

/// <summary>
/// The MHHS interface catalogue: every interface of the DIP specification with its roles, event codes,
/// schema versions and payload schemas, read from the project's own form embedded in this assembly.
/// Immutable after load; one instance serves every thread.
/// </summary>
public sealed class InterfaceCatalogue
{
    private const string ResourceName = "Halfhour.Market.Catalogue.Specification.catalogue.json";

    private static readonly Lazy<InterfaceCatalogue> s_specification = new(LoadEmbedded);

    private readonly FrozenDictionary<string, Entry> _byId;
    private readonly FrozenDictionary<string, Entry>.AlternateLookup<ReadOnlySpan<char>> _bySpan;

    private InterfaceCatalogue(string version, List<InterfaceDefinition> interfaces, Dictionary<string, SchemaNode> types)
    {
        SpecificationVersion = version;
        All = interfaces;
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var variants = new List<PayloadVariant>();
        foreach (var definition in interfaces)
        {
            var own = new PayloadVariant[definition.Events.Count];
            for (var i = 0; i < own.Length; i++)
            {
                var e = definition.Events[i];
                own[i] = new PayloadVariant(definition, e, types[e.PayloadName]);
                variants.Add(own[i]);
            }

            entries[definition.InterfaceId] = new Entry(definition, own);
        }

        Variants = variants;
        Types = types;
        _byId = entries.ToFrozenDictionary(StringComparer.Ordinal);
        _bySpan = _byId.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>The catalogue of DIP specification 2.2.1, as embedded in this assembly.</summary>
    public static InterfaceCatalogue Specification => s_specification.Value;

    /// <summary>The release of the DIP specification the catalogue was built from, e.g. <c>2.2.1</c>.</summary>
    public string SpecificationVersion { get; }

    /// <summary>Every interface, in the specification's order.</summary>
    public IReadOnlyList<InterfaceDefinition> All { get; }

    /// <summary>Every payload variant: one per (interface, event code).</summary>
    public IReadOnlyList<PayloadVariant> Variants { get; }

    /// <summary>Every named schema of the own form, by the specification's name.</summary>
    internal IReadOnlyDictionary<string, SchemaNode> Types { get; }

    /// <summary>Finds an interface by ID, e.g. <c>IF-021</c>.</summary>
    public bool TryGet(string interfaceId, [NotNullWhen(true)] out InterfaceDefinition? definition)
    {
        var found = _byId.TryGetValue(interfaceId, out var entry);
        definition = entry?.Definition;
        return found;
    }

    /// <summary>Finds an interface by ID given as characters, without allocating.</summary>
    public bool TryGet(ReadOnlySpan<char> interfaceId, [NotNullWhen(true)] out InterfaceDefinition? definition)
    {
        var found = _bySpan.TryGetValue(interfaceId, out var entry);
        definition = entry?.Definition;
        return found;
    }

    /// <summary>Finds the payload variant of an interface's event code (without brackets).</summary>
    public bool TryGetVariant(string interfaceId, string eventCode, [NotNullWhen(true)] out PayloadVariant? variant)
    {
        variant = null;
        if (!_byId.TryGetValue(interfaceId, out var entry))
        {
            return false;
        }

        foreach (var candidate in entry.Variants)
        {
            if (candidate.EventCode == eventCode)
            {
                variant = candidate;
                return true;
            }
        }

        return false;
    }

    /// <summary>The variants of an interface given as characters; empty when the interface is unknown.</summary>
    internal PayloadVariant[] VariantsOf(ReadOnlySpan<char> interfaceId) =>
        _bySpan.TryGetValue(interfaceId, out var entry) ? entry.Variants : [];

    private static InterfaceCatalogue LoadEmbedded()
    {
        using var stream = typeof(InterfaceCatalogue).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded catalogue '{ResourceName}' is missing from the assembly.");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        var (version, interfaces, types) = CatalogueReader.Read(bytes);
        return new InterfaceCatalogue(version, interfaces, types);
    }

    private sealed record Entry(InterfaceDefinition Definition, PayloadVariant[] Variants);
}
