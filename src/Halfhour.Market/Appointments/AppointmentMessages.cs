using System.Globalization;
using System.Text.Json;

namespace Halfhour.Market.Appointments;

/// <summary>
/// Reads the <see cref="AppointmentChange"/>s out of a validated registration message. Which messages change an
/// appointment, and which fields carry the party and the day, follows the DIP specification's payload schemas:
/// IF-001 registrations (B002 incoming supplier), IF-036 appointment notifications (B014–B017 incoming metering and
/// data services), IF-037 de-appointments (B008/B009 outgoing, B010/B011 incoming), IF-003 reverse-migration
/// de-appointments (B008/B009) and IF-009 deregistration and disconnection (B042, B041). The requests and responses of
/// IF-031 … IF-035 only negotiate an appointment; it takes effect when the registration service notifies it (IF-036).
/// Registrations are a few hundred thousand a day, so a parsed document is affordable here.
/// </summary>
public static class AppointmentMessages
{
    /// <summary>Where one change is read: the message's interface and event, the custom block, and its party and day fields.</summary>
    internal sealed record Source(string InterfaceId, string EventCode, AppointmentChangeKind Kind, AppointedRole Role, string Block, string? Party, string Day);

    /// <summary>The interfaces whose messages can change an appointment (the broker keeps the book from these only).</summary>
    public static IReadOnlySet<string> Interfaces { get; } = new HashSet<string>(["IF-001", "IF-003", "IF-009", "IF-036", "IF-037"], StringComparer.Ordinal);

    /// <summary>Every place a change is read from, de-appointments before appointments within a message.</summary>
    internal static readonly Source[] Sources =
    [
        new("IF-001", "[InitialRegistration]", AppointmentChangeKind.Appoint, AppointedRole.Supplier, "B002", "incomingSupplierDIPID", "supplierEffectiveFromDate"),
        new("IF-001", "[ChangeOfSupplier]", AppointmentChangeKind.Appoint, AppointedRole.Supplier, "B002", "incomingSupplierDIPID", "supplierEffectiveFromDate"),
        new("IF-036", "[DSAppActive]", AppointmentChangeKind.Appoint, AppointedRole.DataService, "B015", "incomingDataServiceDIPID", "incomingDataServiceEffectiveFromDate"),
        new("IF-036", "[DSAppActive]", AppointmentChangeKind.Appoint, AppointedRole.MeteringService, "B016", "incomingMeteringServiceDIPID", "incomingMeteringServiceEffectiveFromDate"),
        new("IF-036", "[MSAppActive]", AppointmentChangeKind.Appoint, AppointedRole.MeteringService, "B014", "incomingMeteringServiceDIPID", "incomingMeteringServiceEffectiveFromDate"),
        new("IF-036", "[MSAppActive]", AppointmentChangeKind.Appoint, AppointedRole.DataService, "B017", "incomingDataServiceDIPID", "incomingDataServiceEffectiveFromDate"),
        new("IF-037", "[DSDeApp]", AppointmentChangeKind.Deappoint, AppointedRole.DataService, "B009", "deAppointedDataServiceDIPID", "dataServiceEffectiveToDate"),
        new("IF-037", "[DSDeApp]", AppointmentChangeKind.Appoint, AppointedRole.DataService, "B011", "incomingDataServiceDIPID", "incomingDataServiceEffectiveFromDate"),
        new("IF-037", "[DSDeAppUpdate]", AppointmentChangeKind.Appoint, AppointedRole.DataService, "B011", "incomingDataServiceDIPID", "incomingDataServiceEffectiveFromDate"),
        new("IF-037", "[MSDeApp]", AppointmentChangeKind.Deappoint, AppointedRole.MeteringService, "B008", "deAppointedMeteringServiceDIPID", "meteringServiceEffectiveToDate"),
        new("IF-037", "[MSDeApp]", AppointmentChangeKind.Appoint, AppointedRole.MeteringService, "B010", "incomingMeteringServiceDIPID", "incomingMeteringServiceEffectiveFromDate"),
        new("IF-037", "[MSDeAppUpdate]", AppointmentChangeKind.Appoint, AppointedRole.MeteringService, "B010", "incomingMeteringServiceDIPID", "incomingMeteringServiceEffectiveFromDate"),
        new("IF-003", "[DSDeAppRM]", AppointmentChangeKind.Deappoint, AppointedRole.DataService, "B009", "deAppointedDataServiceDIPID", "dataServiceEffectiveToDate"),
        new("IF-003", "[MSDeAppRM]", AppointmentChangeKind.Deappoint, AppointedRole.MeteringService, "B008", "deAppointedMeteringServiceDIPID", "meteringServiceEffectiveToDate"),
        new("IF-009", "[CSSDeRegistration]", AppointmentChangeKind.Deregister, AppointedRole.Supplier, "B042", null, "CSSMPANDeRegistrationDate"),
        new("IF-009", "[MPANDisconnection]", AppointmentChangeKind.Deregister, AppointedRole.Supplier, "B041", null, "disconnectionEffectiveFromDate"),
    ];

    /// <summary>True when messages of this interface and event code (with brackets, as in S0) can change appointments.</summary>
    public static bool CanChangeAppointments(string interfaceId, string eventCode)
    {
        foreach (var source in Sources)
        {
            if (source.InterfaceId == interfaceId && source.EventCode == eventCode)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Adds the changes a validated message makes to <paramref name="changes"/>, de-appointments before
    /// appointments; returns how many. Messages of other interfaces, or without the blocks, add none.
    /// </summary>
    public static int Read(ReadOnlySpan<byte> utf8Message, List<AppointmentChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var reader = new Utf8JsonReader(utf8Message);
        using var document = JsonDocument.ParseValue(ref reader);
        if (!document.RootElement.TryGetProperty("payload", out var payload) ||
            !payload.TryGetProperty("CommonBlock", out var common) || !payload.TryGetProperty("CustomBlock", out var custom) ||
            !common.TryGetProperty("S0", out var s0) || !common.TryGetProperty("M0", out var m0) ||
            Text(s0, "interfaceID") is not { } interfaceId || Text(s0, "eventCode") is not { } eventCode ||
            Text(m0, "MPANCore") is not { } mpanText || !long.TryParse(mpanText, NumberStyles.None, CultureInfo.InvariantCulture, out var mpan))
        {
            return 0;
        }

        var distributor = Text(m0, "distributorDIPID");
        var added = 0;
        foreach (var source in Sources)
        {
            if (source.InterfaceId != interfaceId || source.EventCode != eventCode || !custom.TryGetProperty(source.Block, out var block) ||
                block.ValueKind != JsonValueKind.Object || Text(block, source.Day) is not { Length: >= 10 } dayText ||
                !DateOnly.TryParseExact(dayText.AsSpan(0, 10), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            {
                continue;
            }

            var party = source.Party is null ? null : Text(block, source.Party);
            if (source.Party is not null && party is null)
            {
                continue;
            }

            changes.Add(new AppointmentChange(mpan, source.Kind, source.Role, party, day, distributor));
            added++;
        }

        return added;
    }

    private static string? Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
