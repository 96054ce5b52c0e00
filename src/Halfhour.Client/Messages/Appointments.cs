using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Halfhour.Client.Messages;

/// <summary>
/// A proposed service provider appointment: what the IF-031 … IF-035 family negotiates between the supplier, the
/// registration service and the proposed service, until IF-036 makes it active. A <see cref="DataServiceProposal"/>
/// (B071, events <c>[DSApp…]</c>) or a <see cref="MeteringServiceProposal"/> (B070, events <c>[MSApp…]</c>).
/// </summary>
public abstract record ServiceProposal
{
    /// <summary>The service proposed.</summary>
    public required MarketParty Service { get; init; }

    /// <summary>From when the appointment would take effect.</summary>
    public required DateOnly EffectiveFrom { get; init; }

    /// <summary>Why: <c>COS</c> change of supplier, <c>CSP</c> change of service provider, <c>SEG</c>, <c>MCA</c>, …</summary>
    public string Scenario { get; init; } = "COS";

    /// <summary>The supplier's contract reference with the service.</summary>
    public string? ContractReference { get; init; }

    /// <summary>What the family's event codes start with: <c>DSApp</c> or <c>MSApp</c> (<c>[DSAppSPRequest]</c>, <c>[MSAppAccepted]</c>, …).</summary>
    public abstract string EventPrefix { get; }

    /// <summary>The block that carries the proposal: <c>B071</c> or <c>B070</c>.</summary>
    public abstract string BlockId { get; }

    // The service's name in the block's field names: proposed{Name}DIPID, contractReference{Name}, …
    private protected abstract string FieldName { get; }

    /// <summary>Reads the proposal a message of the family carries in its custom block (B070 or B071, whichever it has).</summary>
    /// <exception cref="FormatException">The block has neither, or lacks a field the proposal needs.</exception>
    public static ServiceProposal Read(JsonElement customBlock)
    {
        try
        {
            if (customBlock.TryGetProperty("B071", out var b071))
            {
                var (service, from, reference, scenario) = CommonFields(b071, DataServiceProposal.Name);
                return new DataServiceProposal
                {
                    Service = service, EffectiveFrom = from, ContractReference = reference, Scenario = scenario,
                    ConsentGranularity = b071.GetProperty("supplierProposedConsentGranularity").GetString()!,
                    Domestic = b071.GetProperty("supplierProposedDomesticIndicator").GetBoolean(),
                };
            }

            if (customBlock.TryGetProperty("B070", out var b070))
            {
                var (service, from, reference, scenario) = CommonFields(b070, MeteringServiceProposal.Name);
                return new MeteringServiceProposal { Service = service, EffectiveFrom = from, ContractReference = reference, Scenario = scenario };
            }
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new FormatException($"The proposed appointment lacks a field or has one of the wrong type: {e.Message}", e);
        }

        throw new FormatException("The message carries no proposed appointment (neither B070 nor B071).");
    }

    internal JsonObject Block()
    {
        var block = new JsonObject
        {
            [$"proposed{FieldName}DIPID"] = Service.DipId,
            [$"proposed{FieldName}MPID"] = Service.Mpid,
            [$"proposed{FieldName}DIPEffectiveFromDate"] = DipTime.Format(EffectiveFrom),
            [$"contractReference{FieldName}"] = ContractReference,
            ["appointmentScenario"] = Scenario,
        };
        AddFields(block);
        return block;
    }

    /// <summary>Adds the kind's own fields to the block beside the common ones.</summary>
    private protected virtual void AddFields(JsonObject block)
    {
    }

    private static (MarketParty Service, DateOnly From, string? Reference, string Scenario) CommonFields(JsonElement block, string name) => (
        new MarketParty(block.GetProperty($"proposed{name}DIPID").GetString()!, block.GetProperty($"proposed{name}MPID").GetString()!),
        DateOnly.FromDateTime(DateTime.Parse(block.GetProperty($"proposed{name}DIPEffectiveFromDate").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal)),
        block.TryGetProperty($"contractReference{name}", out var reference) ? reference.GetString() : null,
        block.GetProperty("appointmentScenario").GetString()!);
}

/// <summary>A proposed data service appointment (B071, events <c>[DSApp…]</c>).</summary>
public sealed record DataServiceProposal : ServiceProposal
{
    /// <summary>The consent granularity the supplier proposes: <c>H</c> half-hourly, <c>D</c> daily, <c>M</c> monthly, <c>N</c> none.</summary>
    public string ConsentGranularity { get; init; } = "H";

    /// <summary>Whether the supplier proposes the premises as domestic.</summary>
    public bool Domestic { get; init; } = true;

    /// <inheritdoc />
    public override string EventPrefix => "DSApp";

    /// <inheritdoc />
    public override string BlockId => "B071";

    internal const string Name = "DataService";

    private protected override string FieldName => Name;

    private protected override void AddFields(JsonObject block)
    {
        block["supplierNominatedMDRDIPID"] = null;
        block["supplierNominatedMDRMPID"] = null;
        block["supplierNominatedMDREffectiveFromDate"] = null;
        block["supplierProposedConsentGranularity"] = ConsentGranularity;
        block["supplierProposedDomesticIndicator"] = Domestic;
        block["traditionalFallBackReadFrequency"] = null;
    }
}

/// <summary>A proposed metering service appointment (B070, events <c>[MSApp…]</c>).</summary>
public sealed record MeteringServiceProposal : ServiceProposal
{
    /// <inheritdoc />
    public override string EventPrefix => "MSApp";

    /// <inheritdoc />
    public override string BlockId => "B070";

    internal const string Name = "MeteringService";

    private protected override string FieldName => Name;
}

/// <summary>A message of the IF-031 … IF-035 family that carries a proposed appointment (B070 or B071) for a metering point.</summary>
public abstract record ServiceProposalMessage : DipMessageBuilder
{
    /// <summary>The metering point.</summary>
    public required MeteringPoint Point { get; init; }

    /// <summary>The appointment proposed; its kind sets the message's event code.</summary>
    public required ServiceProposal Proposal { get; init; }

    /// <summary>The CSS registration ID the appointment belongs to (B013), when there is one.</summary>
    public string? RegistrationId { get; init; }

    /// <inheritdoc />
    public override MeteringPoint? MeteringPoint => Point;

    /// <inheritdoc />
    public sealed override string EventCode => Proposal.EventPrefix + EventSuffix;

    /// <summary>What the event code says after the proposal's prefix (<c>InitialResp</c>, <c>SPRequest</c>, …).</summary>
    protected abstract string EventSuffix { get; }

    /// <inheritdoc />
    protected sealed override JsonObject CustomBlock(DipSender sender)
    {
        var block = new JsonObject();
        if (RegistrationId is not null) block["B013"] = new JsonObject { ["CSSRegistrationID"] = RegistrationId };
        block[Proposal.BlockId] = Proposal.Block();
        AddBlocks(block);
        return block;
    }

    /// <summary>Adds the interface's blocks beside B013 and the proposal's.</summary>
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

/// <summary>A message of IF-033 … IF-035: a proposed appointment that names the supplier which asked for it (B012).</summary>
public abstract record RequestedServiceMessage : ServiceProposalMessage
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

    /// <summary>Reads the requesting supplier (B012) of a message of IF-033 … IF-035 from its custom block.</summary>
    public static MarketParty ReadRequestingSupplier(JsonElement customBlock)
    {
        var b012 = customBlock.GetProperty("B012");
        return new MarketParty(b012.GetProperty("serviceProviderAppointmentRequestingSupplierDIPID").GetString()!,
            b012.GetProperty("serviceProviderAppointmentRequestingSupplierMPID").GetString()!);
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

/// <summary>IF-031 <c>[DSApp]</c> or <c>[MSApp]</c>: a supplier asks the registration service to appoint a data or metering service to a metering point.</summary>
public sealed record ServiceAppointmentRequest : ServiceProposalMessage
{
    /// <inheritdoc />
    public override string InterfaceId => "IF-031";

    /// <inheritdoc />
    protected override string EventSuffix => "";
}

/// <summary>IF-032 <c>[DSAppInitialResp]</c> or <c>[MSAppInitialResp]</c>: the registration service answers a supplier's appointment request.</summary>
public sealed record ServiceAppointmentInitialResponse : ServiceProposalMessage
{
    /// <inheritdoc />
    public override string InterfaceId => "IF-032";

    /// <inheritdoc />
    protected override string EventSuffix => "InitialResp";
}

/// <summary>
/// IF-033 <c>[DSAppSPRequest]</c> or <c>[MSAppSPRequest]</c>: the registration service asks the proposed service to
/// consider an appointment the supplier requested, with the metering point's standing facts (B022 … B026).
/// </summary>
public sealed record ServiceConsiderationRequest : RequestedServiceMessage
{
    /// <summary>The metering service responsible for the point now (B072), when the registration service knows it.</summary>
    public MarketParty? IncumbentMeteringService { get; init; }

    /// <summary>The metering point's standing facts.</summary>
    public MeteringPointDetails Details { get; init; } = new();

    /// <inheritdoc />
    public override string InterfaceId => "IF-033";

    /// <inheritdoc />
    protected override string EventSuffix => "SPRequest";

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

/// <summary>IF-034 <c>[DSAppSPResponse]</c> or <c>[MSAppSPResponse]</c>: the proposed service accepts or rejects the appointment, to the registration service.</summary>
public sealed record ServiceAppointmentResponse : RequestedServiceMessage
{
    /// <summary>True to accept; false to reject with <see cref="RejectionReason"/>.</summary>
    public bool Accept { get; init; } = true;

    /// <summary>Why it is rejected (B007 proposedAppointmentResponseCode), e.g. <c>REJ001 - No contract with supplier</c>.</summary>
    public string? RejectionReason { get; init; }

    /// <inheritdoc />
    public override string InterfaceId => "IF-034";

    /// <inheritdoc />
    protected override string EventSuffix => "SPResponse";

    /// <inheritdoc />
    protected override void AddBlocks(JsonObject block)
    {
        base.AddBlocks(block);
        block["B007"] = OutcomeBlock(Accept ? AppointmentOutcome.Accepted : AppointmentOutcome.Rejected, RejectionReason);
    }
}

/// <summary>
/// IF-035 <c>[DSAppAccepted]</c>, <c>[MSAppRejected]</c>, <c>[DSAppLapsed]</c>, …: the registration service tells the
/// supplier (and the services concerned) how a proposed data or metering service appointment ended.
/// </summary>
public sealed record ServiceAppointmentStatus : RequestedServiceMessage
{
    /// <summary>How it ended.</summary>
    public AppointmentOutcome Outcome { get; init; } = AppointmentOutcome.Accepted;

    /// <summary>Why, when rejected or lapsed (copied from the service's IF-034).</summary>
    public string? Reason { get; init; }

    /// <inheritdoc />
    public override string InterfaceId => "IF-035";

    /// <inheritdoc />
    protected override string EventSuffix => Outcome.ToString();

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
