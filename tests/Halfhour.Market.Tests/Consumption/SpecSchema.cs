using Halfhour.Market.Tests.Reference;

namespace Halfhour.Market.Tests.Consumption;

/// <summary>
/// The spec's own IF-021 schema evaluated by JsonSchema.Net (see <see cref="SpecificationSchema"/>): the oracle the
/// dedicated validator is checked against; the envelope requires <c>payload</c> and nothing else.
/// </summary>
internal static class SpecSchema
{
    public static bool Accepts(byte[] message) => SpecificationSchema.AcceptsPayload("IF-021-Payload", message);
}
