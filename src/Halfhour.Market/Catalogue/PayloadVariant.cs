using Halfhour.Market.Schemas;

namespace Halfhour.Market.Catalogue;

/// <summary>
/// One payload variant: an event code of an interface and the schema its messages follow
/// (e.g. IF-001 <c>ChangeOfSupplier</c> → <c>IF-001-ChangeOfSupplier</c>). Several event codes may share one schema.
/// </summary>
public sealed class PayloadVariant
{
    internal PayloadVariant(InterfaceDefinition definition, EventDefinition eventDefinition, SchemaNode payload)
    {
        Interface = definition;
        Event = eventDefinition;
        Payload = payload;
        var envelope = new SchemaNode
        {
            Name = "DIPMessage",
            Types = JsonKinds.Object,
            Properties = [new PropertyRule("payload", payload) { Required = true }],
            RequiredOrder = [0],
            RequiredMask = 1,
        };
        Envelope = envelope;
    }

    /// <summary>The interface this variant belongs to.</summary>
    public InterfaceDefinition Interface { get; }

    /// <summary>The event code and its schema versions.</summary>
    public EventDefinition Event { get; }

    /// <summary>The interface ID, e.g. <c>IF-021</c>.</summary>
    public string InterfaceId => Interface.InterfaceId;

    /// <summary>The event code without brackets, e.g. <c>ActivePower</c>.</summary>
    public string EventCode => Event.EventCode;

    /// <summary>The schema of <c>payload</c>.</summary>
    internal SchemaNode Payload { get; }

    /// <summary>The schema of the whole message, <c>{"payload": …}</c> (the specification's DIPMessage, narrowed to this variant).</summary>
    internal SchemaNode Envelope { get; }

    /// <inheritdoc />
    public override string ToString() => $"{InterfaceId} [{EventCode}]";
}
