using Halfhour.Market.Appointments;
using Halfhour.Market.Participants;

namespace Halfhour.Market.Routing;

/// <summary>The party of a metering point that a per-metering-point role routes to.</summary>
public enum MeteringPointParty : byte
{
    /// <summary>The LDSO of the MPAN's distributor (M0.distributorDIPID).</summary>
    Distributor,
    /// <summary>The supplier appointed to the MPAN.</summary>
    Supplier,
    /// <summary>The data service appointed to the MPAN.</summary>
    DataService,
    /// <summary>The metering service appointed to the MPAN.</summary>
    MeteringService,
}

/// <summary>
/// Which receiving roles of an interface the backbone adds, and how. For a message about an MPAN a
/// per-metering-point role (supplier, LDSO, data and metering services) goes to the one party serving that MPAN,
/// as a secondary recipient; every other (central) role goes to all its participants in the environment, as
/// "always" recipients. A message about no MPAN goes to every participant of each receiving role ("always").
/// </summary>
public sealed record RoutingPolicy
{
    /// <summary>The DIP's routing: SUP, LDSO, SDS/ADS/UMSDS and MSS/MSA/UMSO per metering point; the rest central.</summary>
    public static RoutingPolicy Default { get; } = new();

    /// <summary>The roles served per metering point, and by which of its parties.</summary>
    public IReadOnlyDictionary<Role, MeteringPointParty> PerMeteringPoint { get; init; } = new Dictionary<Role, MeteringPointParty>
    {
        [Role.SUP] = MeteringPointParty.Supplier,
        [Role.LDSO] = MeteringPointParty.Distributor,
        [Role.SDS] = MeteringPointParty.DataService,
        [Role.ADS] = MeteringPointParty.DataService,
        [Role.UMSDS] = MeteringPointParty.DataService,
        [Role.MSS] = MeteringPointParty.MeteringService,
        [Role.MSA] = MeteringPointParty.MeteringService,
        [Role.UMSO] = MeteringPointParty.MeteringService,
    };

    /// <summary>True when <paramref name="role"/> is served per metering point, and by which party.</summary>
    public bool IsPerMeteringPoint(Role role, out MeteringPointParty party) => PerMeteringPoint.TryGetValue(role, out party);

    /// <summary>The appointment book role behind a metering-point party (none for the distributor).</summary>
    internal static AppointedRole? AppointedRoleOf(MeteringPointParty party) => party switch
    {
        MeteringPointParty.Supplier => AppointedRole.Supplier,
        MeteringPointParty.DataService => AppointedRole.DataService,
        MeteringPointParty.MeteringService => AppointedRole.MeteringService,
        _ => null,
    };
}
