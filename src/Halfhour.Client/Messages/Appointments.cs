using System.Text.Json.Nodes;

namespace Halfhour.Client.Messages;

/// <summary>
/// A proposed data service appointment (B071): what the IF-031 … IF-035 family negotiates between the supplier, the
/// registration service and the data service, until IF-036 makes it active.
/// </summary>
public sealed record DataServiceProposal
{
    /// <summary>The data service proposed.</summary>
    public required MarketParty DataService { get; init; }

    /// <summary>From when the appointment would take effect.</summary>
    public required DateOnly EffectiveFrom { get; init; }

    /// <summary>Why: <c>COS</c> change of supplier, <c>CSP</c> change of service provider, <c>SEG</c>, <c>MCA</c>, …</summary>
    public string Scenario { get; init; } = "COS";

    /// <summary>The supplier's contract reference with the data service.</summary>
    public string? ContractReference { get; init; }

    /// <summary>The consent granularity the supplier proposes: <c>H</c> half-hourly, <c>D</c> daily, <c>M</c> monthly, <c>N</c> none.</summary>
    public string ConsentGranularity { get; init; } = "H";

    /// <summary>Whether the supplier proposes the premises as domestic.</summary>
    public bool Domestic { get; init; } = true;

    internal JsonObject Block() => new()
    {
        ["proposedDataServiceDIPID"] = DataService.DipId,
        ["proposedDataServiceMPID"] = DataService.Mpid,
        ["proposedDataServiceDIPEffectiveFromDate"] = DipTime.Format(EffectiveFrom),
        ["contractReferenceDataService"] = ContractReference,
        ["appointmentScenario"] = Scenario,
        ["supplierNominatedMDRDIPID"] = null,
        ["supplierNominatedMDRMPID"] = null,
        ["supplierNominatedMDREffectiveFromDate"] = null,
        ["supplierProposedConsentGranularity"] = ConsentGranularity,
        ["supplierProposedDomesticIndicator"] = Domestic,
        ["traditionalFallBackReadFrequency"] = null,
    };
}

/// <summary>A message of the IF-031 … IF-035 family that carries a proposed data service appointment (B071) for a metering point.</summary>
public abstract record DataServiceProposalMessage : DipMessageBuilder
{
    /// <summary>The metering point.</summary>
    public required MeteringPoint Point { get; init; }

    /// <summary>The appointment proposed.</summary>
    public required DataServiceProposal Proposal { get; init; }

    /// <inheritdoc />
    public override MeteringPoint? MeteringPoint => Point;

    /// <inheritdoc />
    protected override JsonObject CustomBlock(DipSender sender) => new() { ["B071"] = Proposal.Block() };
}

/// <summary>IF-031 <c>[DSApp]</c>: a supplier asks the registration service to appoint a data service to a metering point.</summary>
public sealed record DataServiceAppointmentRequest : DataServiceProposalMessage
{
    /// <inheritdoc />
    public override string InterfaceId => "IF-031";

    /// <inheritdoc />
    public override string EventCode => "DSApp";
}

/// <summary>IF-032 <c>[DSAppInitialResp]</c>: the registration service answers a supplier's appointment request.</summary>
public sealed record DataServiceAppointmentInitialResponse : DataServiceProposalMessage
{
    /// <inheritdoc />
    public override string InterfaceId => "IF-032";

    /// <inheritdoc />
    public override string EventCode => "DSAppInitialResp";
}

/// <summary>
/// IF-036 <c>[DSAppActive]</c>: the registration service confirms that a data service is appointed to a metering point
/// from a date. The backbone keeps this appointment and routes the point's consumption by it.
/// </summary>
public sealed record DataServiceAppointmentActive : DipMessageBuilder
{
    /// <summary>The metering point.</summary>
    public required MeteringPoint Point { get; init; }

    /// <summary>The supplier that asked for the appointment.</summary>
    public required MarketParty RequestingSupplier { get; init; }

    /// <summary>The data service now appointed.</summary>
    public required MarketParty DataService { get; init; }

    /// <summary>From when it is appointed.</summary>
    public required DateOnly EffectiveFrom { get; init; }

    /// <summary>Why: <c>COS</c>, <c>CSP</c>, …</summary>
    public string Scenario { get; init; } = "COS";

    /// <summary>The metering point's standing facts.</summary>
    public MeteringPointDetails Details { get; init; } = new();

    /// <inheritdoc />
    public override string InterfaceId => "IF-036";

    /// <inheritdoc />
    public override string EventCode => "DSAppActive";

    /// <inheritdoc />
    public override MeteringPoint? MeteringPoint => Point;

    /// <inheritdoc />
    protected override JsonObject CustomBlock(DipSender sender)
    {
        var block = new JsonObject
        {
            ["B012"] = new JsonObject
            {
                ["serviceProviderAppointmentRequestingSupplierDIPID"] = RequestingSupplier.DipId,
                ["serviceProviderAppointmentRequestingSupplierMPID"] = RequestingSupplier.Mpid,
            },
            ["B015"] = new JsonObject
            {
                ["incomingDataServiceMPID"] = DataService.Mpid,
                ["incomingDataServiceDIPID"] = DataService.DipId,
                ["incomingDataServiceEffectiveFromDate"] = DipTime.Format(EffectiveFrom),
                ["contractReferenceDataService"] = null,
                ["appointmentScenario"] = Scenario,
                ["traditionalFallBackReadFrequency"] = null,
            },
        };
        Details.AddTo(block);
        block["B028"] = Details.DomesticBlock();
        return block;
    }
}

/// <summary>
/// IF-001 <c>[ChangeOfSupplier]</c> (or <c>[InitialRegistration]</c> when there is no outgoing supplier): the
/// registration service notifies that a supplier is registered to a metering point from a date. The backbone keeps
/// this appointment and routes the point's messages to the supplier by it.
/// </summary>
public sealed record SupplierRegistration : DipMessageBuilder
{
    /// <summary>The metering point.</summary>
    public required MeteringPoint Point { get; init; }

    /// <summary>The CSS registration ID (up to 36 characters).</summary>
    public required string RegistrationId { get; init; }

    /// <summary>The supplier registered.</summary>
    public required MarketParty IncomingSupplier { get; init; }

    /// <summary>From when it is registered.</summary>
    public required DateOnly EffectiveFrom { get; init; }

    /// <summary>The supplier it replaces; null for an initial registration.</summary>
    public MarketParty? OutgoingSupplier { get; init; }

    /// <summary>The metering point's standing facts.</summary>
    public MeteringPointDetails Details { get; init; } = new();

    /// <inheritdoc />
    public override string InterfaceId => "IF-001";

    /// <inheritdoc />
    public override string EventCode => OutgoingSupplier is null ? "InitialRegistration" : "ChangeOfSupplier";

    /// <inheritdoc />
    public override MeteringPoint? MeteringPoint => Point;

    /// <inheritdoc />
    protected override JsonObject CustomBlock(DipSender sender)
    {
        var block = new JsonObject
        {
            ["B013"] = new JsonObject { ["CSSRegistrationID"] = RegistrationId },
            ["B002"] = new JsonObject
            {
                ["incomingSupplierDIPID"] = IncomingSupplier.DipId,
                ["incomingSupplierMPID"] = IncomingSupplier.Mpid,
                ["supplierEffectiveFromDate"] = DipTime.Format(EffectiveFrom),
            },
        };
        if (OutgoingSupplier is { } outgoing)
        {
            block["B003"] = new JsonObject
            {
                ["outgoingSupplierDIPID"] = outgoing.DipId,
                ["outgoingSupplierMPID"] = outgoing.Mpid,
                ["supplierEffectiveToDate"] = DipTime.Format(EffectiveFrom.AddDays(-1)),
            };
        }

        block["B004"] = Details.DomesticBlock();
        Details.AddTo(block);
        return block;
    }
}
