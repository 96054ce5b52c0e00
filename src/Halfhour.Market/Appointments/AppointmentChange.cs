namespace Halfhour.Market.Appointments;

/// <summary>The parties the appointment book keeps per metering point.</summary>
public enum AppointedRole : byte
{
    /// <summary>The registered supplier (SUP).</summary>
    Supplier,
    /// <summary>The appointed data service (SDS, ADS or UMSDS).</summary>
    DataService,
    /// <summary>The appointed metering service (MSS, MSA or UMSO).</summary>
    MeteringService,
}

/// <summary>What a change does to an appointment.</summary>
public enum AppointmentChangeKind : byte
{
    /// <summary>The party is appointed from <see cref="AppointmentChange.Day"/> on.</summary>
    Appoint,
    /// <summary>The party's appointment ends after <see cref="AppointmentChange.Day"/>, its last day (if it still holds it then).</summary>
    Deappoint,
    /// <summary>The metering point leaves the market from <see cref="AppointmentChange.Day"/>: no role is held from then.</summary>
    Deregister,
}

/// <summary>
/// One change of who serves a metering point, as read from a registration message the backbone carried
/// (see <see cref="AppointmentMessages"/>). Days are settlement dates as the sender wrote them.
/// </summary>
/// <param name="MpanCore">The MPAN core as a number.</param>
/// <param name="Kind">Appointment, de-appointment or deregistration.</param>
/// <param name="Role">The role changed (ignored for <see cref="AppointmentChangeKind.Deregister"/>, which ends all three).</param>
/// <param name="PartyDipId">The appointed or de-appointed party's DIP ID; null for a deregistration.</param>
/// <param name="Day">The first day of an appointment or deregistration; the last day of a de-appointed party.</param>
/// <param name="DistributorDipId">The metering point's distributor (M0.distributorDIPID), when the message names it.</param>
public readonly record struct AppointmentChange(
    long MpanCore, AppointmentChangeKind Kind, AppointedRole Role, string? PartyDipId, DateOnly Day, string? DistributorDipId = null);

/// <summary>One appointment: who, and from which day.</summary>
/// <param name="DipId">The appointed party's DIP ID; null when nobody holds the role.</param>
/// <param name="From">The first day of the appointment (or of the vacancy).</param>
public readonly record struct Appointment(string? DipId, DateOnly From)
{
    /// <summary>True when a party holds the role.</summary>
    public bool IsHeld => DipId is not null;
}

/// <summary>Who serves one metering point on one day.</summary>
/// <param name="DistributorDipId">The LDSO of the metering point's distributor; null when unknown.</param>
/// <param name="Supplier">The supplier.</param>
/// <param name="DataService">The data service.</param>
/// <param name="MeteringService">The metering service.</param>
public readonly record struct MeteringPointAppointments(string? DistributorDipId, Appointment Supplier, Appointment DataService, Appointment MeteringService)
{
    /// <summary>The appointment of one role.</summary>
    public Appointment this[AppointedRole role] => role switch
    {
        AppointedRole.Supplier => Supplier,
        AppointedRole.DataService => DataService,
        _ => MeteringService,
    };
}
