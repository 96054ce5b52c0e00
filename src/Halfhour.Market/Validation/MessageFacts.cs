using System.Text.Json;
using Halfhour.Market.Envelope;

namespace Halfhour.Market.Validation;

/// <summary>
/// What the backbone needs to know of a message to entitle, de-duplicate and route it, filled in by
/// the validator while it reads the message (so the message is parsed once). Reusable: <see cref="Reset"/>.
/// </summary>
public sealed class MessageFacts
{
    /// <summary>S0.interfaceID, e.g. <c>IF-021</c>.</summary>
    public string? InterfaceId { get; set; }

    /// <summary>S0.eventCode without brackets, e.g. <c>ActivePower</c>.</summary>
    public string? EventCode { get; set; }

    /// <summary>S0.schemaVersion.</summary>
    public string? SchemaVersion { get; set; }

    /// <summary>S1.environmentTag.</summary>
    public string? EnvironmentTag { get; set; }

    /// <summary>S1.senderUniqueReference: the de-duplication key, per sender.</summary>
    public string? SenderUniqueReference { get; set; }

    /// <summary>S1.senderTimestamp, as sent.</summary>
    public string? SenderTimestamp { get; set; }

    /// <summary>S1.senderDIPID.</summary>
    public string? SenderDipId { get; set; }

    /// <summary>S1.senderRoleID.</summary>
    public string? SenderRoleId { get; set; }

    /// <summary>S1.senderCorrelationID, when not null.</summary>
    public string? SenderCorrelationId { get; set; }

    /// <summary>M0.MPANCore when the message is about one metering point (M1.principalMPAN for an MPAN relationship).</summary>
    public string? Mpan { get; set; }

    /// <summary>M0 (or M1) distributorDIPID when present.</summary>
    public string? DistributorDipId { get; set; }

    /// <summary>M0 (or M1) GSPGroupID when present.</summary>
    public string? GspGroupId { get; set; }

    /// <summary>A0.primaryRecipients as sent.</summary>
    public List<string> PrimaryRecipients { get; } = new(1); // nearly every message names one: room for one, not the four a first Add would make

    /// <summary>Records one fact (the validators name a fact by <see cref="MessageFact"/> as they meet its field).</summary>
    internal void Set(MessageFact fact, string? value)
    {
        switch (fact)
        {
            case MessageFact.InterfaceId: InterfaceId = value; break;
            case MessageFact.EventCode: EventCode = value; break;
            case MessageFact.SchemaVersion: SchemaVersion = value; break;
            case MessageFact.EnvironmentTag: EnvironmentTag = value; break;
            case MessageFact.SenderUniqueReference: SenderUniqueReference = value; break;
            case MessageFact.SenderTimestamp: SenderTimestamp = value; break;
            case MessageFact.SenderDipId: SenderDipId = value; break;
            case MessageFact.SenderRoleId: SenderRoleId = value; break;
            case MessageFact.SenderCorrelationId: SenderCorrelationId = value; break;
            case MessageFact.Mpan: Mpan = value; break;
            case MessageFact.DistributorDipId: DistributorDipId = value; break;
            case MessageFact.GspGroupId: GspGroupId = value; break;
        }
    }

    /// <summary>Clears every fact so the instance can serve the next message.</summary>
    public void Reset()
    {
        InterfaceId = EventCode = SchemaVersion = EnvironmentTag = SenderUniqueReference = SenderTimestamp = null;
        SenderDipId = SenderRoleId = SenderCorrelationId = Mpan = DistributorDipId = GspGroupId = null;
        PrimaryRecipients.Clear();
    }
}

/// <summary>Which <see cref="MessageFacts"/> property a field of the message fills.</summary>
internal enum MessageFact : byte
{
    /// <summary>The field fills no fact.</summary>
    None,
    /// <summary>S0.interfaceID.</summary>
    InterfaceId,
    /// <summary>S0.eventCode.</summary>
    EventCode,
    /// <summary>S0.schemaVersion.</summary>
    SchemaVersion,
    /// <summary>S1.environmentTag.</summary>
    EnvironmentTag,
    /// <summary>S1.senderUniqueReference.</summary>
    SenderUniqueReference,
    /// <summary>S1.senderTimestamp.</summary>
    SenderTimestamp,
    /// <summary>S1.senderDIPID.</summary>
    SenderDipId,
    /// <summary>S1.senderRoleID.</summary>
    SenderRoleId,
    /// <summary>S1.senderCorrelationID.</summary>
    SenderCorrelationId,
    /// <summary>M0.MPANCore (or M1's principal MPAN).</summary>
    Mpan,
    /// <summary>M0.distributorDIPID.</summary>
    DistributorDipId,
    /// <summary>M0.GSPGroupID.</summary>
    GspGroupId,
}

/// <summary>Validates one whole message (<c>{"payload":…}</c> as UTF-8): envelope, payload schema and semantic rules.</summary>
public interface IMessageValidator
{
    /// <summary>Validates <paramref name="utf8Message"/> and fills <paramref name="facts"/> with what it read; never throws on bad input.</summary>
    ValidationResult Validate(ReadOnlySpan<byte> utf8Message, MessageFacts facts);

    /// <summary>
    /// Validates the message that <paramref name="reader"/> stands on (its first token) inside the larger document
    /// <paramref name="utf8Document"/> the reader reads — a batch — and leaves the reader on the message's last token,
    /// with the same verdict and facts as <see cref="Validate(ReadOnlySpan{byte}, MessageFacts)"/> over the message's bytes.
    /// A validator that can judge the message on that reader reads it once; the default finds the message's end, then
    /// validates its bytes. A <see cref="JsonException"/> means the document is not well-formed JSON there: it propagates,
    /// because the document is judged as a whole.
    /// </summary>
    ValidationResult Validate(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8Document, MessageFacts facts)
        => Validate(utf8Document[MessageBatch.SkipMessage(ref reader)], facts);
}
