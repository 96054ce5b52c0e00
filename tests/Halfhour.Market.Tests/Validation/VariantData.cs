using Halfhour.Market.Catalogue;

namespace Halfhour.Market.Tests.Validation;

/// <summary>Theory data: every payload variant of the catalogue, by interface and event code.</summary>
public sealed class EveryVariant : TheoryData<string, string>
{
    public EveryVariant()
    {
        foreach (var variant in InterfaceCatalogue.Specification.Variants)
        {
            Add(variant.InterfaceId, variant.EventCode);
        }
    }

    public static PayloadVariant Find(string interfaceId, string eventCode) =>
        InterfaceCatalogue.Specification.TryGetVariant(interfaceId, eventCode, out var variant)
            ? variant
            : throw new InvalidOperationException($"{interfaceId} [{eventCode}] is not in the catalogue.");
}
