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

    /// <summary>The CSS registration ID the appointment belongs to (B013), when there is one.</summary>
    public string? RegistrationId { get; init; }

    /// <inheritdoc />
    public override MeteringPoint? MeteringPoint => Point;

    /// <inheritdoc />
    protected sealed override JsonObject CustomBlock(DipSender sender)
    {
        var block = new JsonObject();
        if (RegistrationId is not null) block["B013"] = new JsonObject { ["CSSRegistrationID"] = RegistrationId };
        block["B071"] = Proposal.Block();
        AddBlocks(block);
        return block;
    }

    /// <summary>Adds the interface's blocks beside B013 and B071.</summary>
    protected virtual void AddBlocks(JsonObject block)
    {
    }
}

/// <summary>How a proposed appointment ended (B007's response code): accepted, rejected or lapsed unanswered.</summary>
public enum AppointmentOutcome
{
    /// <summary><c>A</c>: accepted.</summary>
    Accepted,
    /// <summary><c>R</c>: rejected, with a reason.</summary>
    Rejected,
    /// <summary><c>L</c>: lapsed, not answered in time.</summary>
    Lapsed,
}

/// <summary>A message of IF-033 … IF-035: a proposed data service appointment that names the supplier which asked for it (B012).</summary>
public abstract record RequestedDataServiceMessage : DataServiceProposalMessage
{
    /// <summary>The supplier that asked for the appointment (IF-031's sender).</summary>
    public required MarketParty RequestingSupplier { get; init; }

    /// <inheritdoc />
    protected override void AddBlocks(JsonObject block)
    {
        ArgumentNullException.ThrowIfNull(block);
        block["B012"] = new JsonObject
        {
            ["serviceProviderAppointmentRequestingSupplierDIPID"] = RequestingSupplier.DipId,
            ["serviceProviderAppointmentRequestingSupplierMPID"] = RequestingSupplier.Mpid,
        };
    }

    /// <summary>B007: the outcome code and, unless accepted, the reason.</summary>
    private protected static JsonObject OutcomeBlock(AppointmentOutcome outcome, string? reason)
    {
        if (outcome != AppointmentOutcome.Accepted && string.IsNullOrEmpty(reason))
        {
            throw new ArgumentException($"An appointment {outcome.ToString().ToLowerInvariant()} needs a reason (B007 proposedAppointmentResponseCode).", nameof(reason));
        }

        return new JsonObject
        {
            ["responseCode"] = outcome switch { AppointmentOutcome.Accepted => "A", AppointmentOutcome.Rejected => "R", _ => "L" },
            ["proposedAppointmentResponseCode"] = outcome == AppointmentOutcome.Accepted ? null : reason,
        };
    }
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
/// IF-033 <c>[DSAppSPRequest]</c>: the registration service asks the proposed data service to consider an appointment
/// the supplier requested, with the metering point's standing facts (B022 … B026).
/// </summary>
public sealed record DataServiceConsiderationRequest : RequestedDataServiceMessage
{
    /// <summary>The metering service responsible for the point now (B072), when the registration service knows it.</summary>
    public MarketParty? IncumbentMeteringService { get; init; }

    /// <summary>The metering point's standing facts.</summary>
    public MeteringPointDetails Details { get; init; } = new();

    /// <inheritdoc />
    public override string InterfaceId => "IF-033";

    /// <inheritdoc />
    public override string EventCode => "DSAppSPRequest";

    /// <inheritdoc />
    protected override void AddBlocks(JsonObject block)
    {
        base.AddBlocks(block);
        if (IncumbentMeteringService is { } incumbent)
        {
            block["B072"] = new JsonObject { ["incumbentMeteringServiceDIPID"] = incumbent.DipId, ["incumbentMeteringServiceMPID"] = incumbent.Mpid };
        }

        Details.AddTo(block);
    }
}

/// <summary>IF-034 <c>[DSAppSPResponse]</c>: the proposed data service accepts or rejects the appointment, to the registration service.</summary>
public sealed record DataServiceAppointmentResponse : RequestedDataServiceMessage
{
    /// <summary>True to accept; false to reject with <see cref="RejectionReason"/>.</summary>
    public bool Accept { get; init; } = true;

    /// <summary>Why it is rejected (B007 proposedAppointmentResponseCode), e.g. <c>REJ001 - No contract with supplier</c>.</summary>
    public string? RejectionReason { get; init; }

    /// <inheritdoc />
    public override string InterfaceId => "IF-034";

    /// <inheritdoc />
    public override string EventCode => "DSAppSPResponse";

    /// <inheritdoc />
    protected override void AddBlocks(JsonObject block)
    {
        base.AddBlocks(block);
        block["B007"] = OutcomeBlock(Accept ? AppointmentOutcome.Accepted : AppointmentOutcome.Rejected, RejectionReason);
    }
}

/// <summary>
/// IF-035 <c>[DSAppAccepted]</c>, <c>[DSAppRejected]</c> or <c>[DSAppLapsed]</c>: the registration service tells the
/// supplier (and the services concerned) how a proposed data service appointment ended.
/// </summary>
public sealed record DataServiceAppointmentStatus : RequestedDataServiceMessage
{
    /// <summary>How it ended.</summary>
    public AppointmentOutcome Outcome { get; init; } = AppointmentOutcome.Accepted;

    /// <summary>Why, when rejected or lapsed (copied from the data service's IF-034).</summary>
    public string? Reason { get; init; }

    /// <inheritdoc />
    public override string InterfaceId => "IF-035";

    /// <inheritdoc />
    public override string EventCode => "DSApp" + Outcome;

    /// <inheritdoc />
    protected override void AddBlocks(JsonObject block)
    {
        base.AddBlocks(block);
        block["B007"] = OutcomeBlock(Outcome, Reason);
    }
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
