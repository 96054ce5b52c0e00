using System.Globalization;
using System.Text.Json.Nodes;

namespace Halfhour.Client.Messages;

/// <summary>Who sends: the participant's DIP ID, its role code and the environment its credentials belong to.</summary>
/// <param name="DipId">The 10-digit DIP ID.</param>
/// <param name="Role">The role code, e.g. <c>SDS</c>.</param>
/// <param name="Environment">The environment tag, e.g. <c>PRD</c> or <c>DEV</c>.</param>
public sealed record DipSender(string DipId, string Role, string Environment);

/// <summary>A metering point as the common block's M0 names it.</summary>
/// <param name="Mpan">The 13-digit MPAN core (with its check digit).</param>
/// <param name="DistributorDipId">The DIP ID of the LDSO whose network it is on.</param>
/// <param name="GspGroupId">The GSP group, <c>_A</c> … <c>_P</c>.</param>
public sealed record MeteringPoint(string Mpan, string DistributorDipId, string GspGroupId);

/// <summary>A market participant named in a custom block: its DIP ID and its four-letter MPID.</summary>
/// <param name="DipId">The 10-digit DIP ID.</param>
/// <param name="Mpid">The four-letter market participant ID.</param>
public sealed record MarketParty(string DipId, string Mpid);

/// <summary>
/// The common part of every typed message builder: S0 from the interface, S1 from the sender (with a fresh sender
/// unique reference unless one is given), A0 from the recipients, M0 from the metering point. Subclasses supply the
/// custom block. Building twice gives two messages with different references; to retry, resend the built
/// <see cref="DipMessage"/>, which is what <see cref="Transport.DipClient"/> does.
/// </summary>
public abstract record DipMessageBuilder
{
    /// <summary>The interface, e.g. <c>IF-021</c>: also the channel it is sent on.</summary>
    public abstract string InterfaceId { get; }

    /// <summary>The event code without brackets, e.g. <c>ActivePower</c>.</summary>
    public abstract string EventCode { get; }

    /// <summary>The schema version; every interface of DIP 2.2.1 is at 011.</summary>
    public string SchemaVersion { get; init; } = "011";

    /// <summary>The metering point the message is about (M0), or null for interfaces that are not about one.</summary>
    public abstract MeteringPoint? MeteringPoint { get; }

    /// <summary>The primary recipients' DIP IDs (A0); the backbone adds those the routing rules name.</summary>
    public IReadOnlyList<string> Recipients { get; init; } = [];

    /// <summary>The sender's unique reference; null makes a new one, <c>S-IF-nnn-DIPID-ROLE-yyyyMMdd-…</c>.</summary>
    public string? SenderUniqueReference { get; init; }

    /// <summary>S1.senderCorrelationID, to tie this message to an earlier one.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>S1.subText, free text.</summary>
    public string? SubText { get; init; }

    /// <summary>Builds the message as <paramref name="sender"/> sends it at <paramref name="now"/>.</summary>
    public DipMessage Build(DipSender sender, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(sender);
        var common = new JsonObject
        {
            ["S0"] = new JsonObject { ["interfaceID"] = InterfaceId, ["schemaVersion"] = SchemaVersion, ["eventCode"] = $"[{EventCode}]" },
            ["S1"] = new JsonObject
            {
                ["environmentTag"] = sender.Environment,
                ["subText"] = SubText,
                ["senderUniqueReference"] = SenderUniqueReference ?? NewSenderUniqueReference(InterfaceId, sender, now),
                ["senderTimestamp"] = DipTime.Format(now),
                ["senderDIPID"] = sender.DipId,
                ["senderRoleID"] = sender.Role,
                ["senderCorrelationID"] = CorrelationId,
                ["DIPConnectionProviderID"] = null,
            },
            ["A0"] = new JsonObject { ["primaryRecipients"] = Strings(Recipients), ["secondaryRecipients"] = new JsonArray(), ["always"] = new JsonArray() },
        };
        if (MeteringPoint is { } point)
        {
            common["M0"] = new JsonObject { ["MPANCore"] = point.Mpan, ["distributorDIPID"] = point.DistributorDipId, ["GSPGroupID"] = point.GspGroupId };
        }

        return new DipMessage(new JsonObject { ["payload"] = new JsonObject { ["CommonBlock"] = common, ["CustomBlock"] = CustomBlock(sender) } });
    }

    /// <summary>A new sender unique reference in the DIP's form; the tail is random, so it never repeats.</summary>
    public static string NewSenderUniqueReference(string interfaceId, DipSender sender, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(sender);
        return string.Create(CultureInfo.InvariantCulture, $"S-{interfaceId}-{sender.DipId}-{sender.Role}-{now.UtcDateTime:yyyyMMdd}-{Guid.NewGuid():N}");
    }

    /// <summary>The interface's custom block.</summary>
    protected abstract JsonObject CustomBlock(DipSender sender);

    /// <summary>A JSON array of strings.</summary>
    protected static JsonArray Strings(IEnumerable<string> values) => [.. values.Select(v => (JsonNode?)JsonValue.Create(v))];
}

/// <summary>Any interface's message from its custom block as JSON: for the interfaces that have no typed builder.</summary>
public sealed record CustomMessage : DipMessageBuilder
{
    /// <summary>Creates a builder for an interface and event code (without brackets), about a metering point or none.</summary>
    public CustomMessage(string interfaceId, string eventCode, MeteringPoint? meteringPoint, JsonObject customBlock)
    {
        InterfaceId = interfaceId;
        EventCode = eventCode;
        MeteringPoint = meteringPoint;
        Block = customBlock;
    }

    /// <inheritdoc />
    public override string InterfaceId { get; }

    /// <inheritdoc />
    public override string EventCode { get; }

    /// <inheritdoc />
    public override MeteringPoint? MeteringPoint { get; }

    /// <summary>The custom block, copied into each message built.</summary>
    public JsonObject Block { get; }

    /// <inheritdoc />
    protected override JsonObject CustomBlock(DipSender sender) => (JsonObject)Block.DeepClone();
}

/// <summary>Date-times as the DIP writes them (DT-003): <c>yyyy-MM-ddTHH:mm:ss+00:00</c>, always UTC.</summary>
public static class DipTime
{
    /// <summary>Formats an instant as DT-003.</summary>
    public static string Format(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", CultureInfo.InvariantCulture);

    /// <summary>Formats the start of a UTC day as DT-003.</summary>
    public static string Format(DateOnly day) => Format(new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero));
}
