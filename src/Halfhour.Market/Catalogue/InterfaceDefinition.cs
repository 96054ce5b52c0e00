using Halfhour.Market.Participants;

namespace Halfhour.Market.Catalogue;

/// <summary>One interface of the MHHS catalogue (<c>IF-nnn</c> or <c>REP-nnn</c>): who sends it, who receives it, and its events.</summary>
public sealed class InterfaceDefinition
{
    /// <summary>The interface ID, e.g. <c>IF-021</c>.</summary>
    public required string InterfaceId { get; init; }

    /// <summary>The interface's name, e.g. <c>Consumption Data</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The published form's ID, e.g. <c>PUB-021</c>, stamped into D0.publicationID on the way out.</summary>
    public required string PublicationId { get; init; }

    /// <summary>The roles that may send this interface.</summary>
    public required IReadOnlyList<Role> SendingRoles { get; init; }

    /// <summary>The roles that may receive this interface.</summary>
    public required IReadOnlyList<Role> ReceivingRoles { get; init; }

    /// <summary>The event codes of the interface, each with its schema versions.</summary>
    public required IReadOnlyList<EventDefinition> Events { get; init; }
}

/// <summary>One event code of an interface (e.g. <c>ActivePower</c> of IF-021) and the schema versions it is defined in.</summary>
public sealed class EventDefinition
{
    /// <summary>The event code without brackets, e.g. <c>ActivePower</c>.</summary>
    public required string EventCode { get; init; }

    /// <summary>The schema versions defined for this event, e.g. <c>["001"]</c>.</summary>
    public required IReadOnlyList<string> SchemaVersions { get; init; }

    /// <summary>True when messages of this event are about one metering point (carry M0 with an MPAN core).</summary>
    public bool IsAboutMeteringPoint { get; init; }

    /// <summary>The name of the payload schema messages of this event follow, e.g. <c>IF-001-ChangeOfSupplier</c>.</summary>
    public string PayloadName { get; init; } = "";
}
