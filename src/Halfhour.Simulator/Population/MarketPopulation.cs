using System.Globalization;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;

namespace Halfhour.Simulator.Population;

/// <summary>How a stub takes what the backbone routes to it.</summary>
public enum Reception
{
    /// <summary>The backbone pushes to the stub's webhook (the DIP style).</summary>
    Webhook,
    /// <summary>The stub long-polls the native pull API and acknowledges.</summary>
    Pull,
}

/// <summary>
/// The size of a simulated market. The defaults are the reference model's: about 60 suppliers, 17 distributors, 27
/// registration services, 35 data services and 85 metering services, "approx. 400 active market participants". A DIP
/// participant holds one role, so a company offering several services is a participant per service: each data service
/// here is a smart (SDS), an advanced (ADS) and an unmetered (UMSDS) data service, each metering service a smart (MSS) and
/// an advanced (MSA) one, and the GSP groups' distributors also operate unmetered supplies (UMSO). With the eight central
/// services that makes 60 + 17 + 27 + 3 × 35 + 2 × 85 + 14 + 8 = 401 participants.
/// </summary>
public sealed record PopulationOptions
{
    /// <summary>Suppliers (SUP).</summary>
    public int Suppliers { get; init; } = 60;

    /// <summary>Distribution network operators (LDSO): one per GSP group, the rest independent networks.</summary>
    public int Distributors { get; init; } = 17;

    /// <summary>Registration services (REGS).</summary>
    public int RegistrationServices { get; init; } = 27;

    /// <summary>Data services of each kind: this many SDS, this many ADS and this many UMSDS.</summary>
    public int DataServices { get; init; } = 35;

    /// <summary>Metering services of each kind: this many MSS and this many MSA.</summary>
    public int MeteringServices { get; init; } = 85;

    /// <summary>Unmetered supplies operators (UMSO); the reference model's distributors of the GSP groups.</summary>
    public int UnmeteredSuppliesOperators { get; init; } = ConsumptionRoster.DistributorCount;

    /// <summary>One stub in this many receives by pull, the others by webhook, so both paths are exercised.</summary>
    public int PullEvery { get; init; } = 5;
}

/// <summary>
/// The participants of a simulated market and who serves each MPAN. Suppliers, data services, the GSP groups'
/// distributors and the load shaping and market-wide data services are the <see cref="ConsumptionRoster"/>'s (so the
/// IF-021 builder names the same parties; its data services are split into SDS, ADS and UMSDS here); registration and
/// metering services, unmetered supplies operators, the independent networks and the other central services (ISD, VAS,
/// EES, MDR, DCC, ECS) are added here. An MPAN's data service sets its market segment, and its metering service is one of
/// that segment (SDS: MSS, ADS: MSA, UMSDS: UMSO). Deterministic: two processes given the same options agree on every
/// DIP ID and every appointment.
/// </summary>
public sealed class MarketPopulation
{
    /// <summary>The central services beside LSS and MDS: one participant each.</summary>
    private static readonly Role[] OtherCentralRoles = [Role.ISD, Role.VAS, Role.EES, Role.MDR, Role.DCC, Role.ECS];

    private readonly List<Participant> _participants = [];
    private readonly Dictionary<string, Reception> _reception = new(StringComparer.Ordinal);
    private readonly Dictionary<Role, IReadOnlyList<string>> _meteringOf = [];

    /// <summary>Builds the population in <paramref name="environment"/>.</summary>
    public MarketPopulation(PopulationOptions options, MarketEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Distributors, ConsumptionRoster.DistributorCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.RegistrationServices, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.DataServices, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MeteringServices, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.UnmeteredSuppliesOperators, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PullEvery, 1);
        Options = options;
        Environment = environment;
        Roster = new ConsumptionRoster(options.Suppliers, 3 * options.DataServices);
        // The roster's data services in thirds: smart, advanced, unmetered.
        _participants.AddRange(Roster.Participants(environment).Select(p => p.Role == Role.SDS ? p with { Role = DataServiceRoleAt(IndexOf(Roster.DataServices, p.DipId)) } : p));
        Add(Role.LDSO, "30", ConsumptionRoster.DistributorCount, options.Distributors - ConsumptionRoster.DistributorCount);
        RegistrationServices = Add(Role.REGS, "70", 0, options.RegistrationServices);
        _meteringOf[Role.SDS] = Add(Role.MSS, "60", 0, options.MeteringServices);
        _meteringOf[Role.ADS] = Add(Role.MSA, "61", 0, options.MeteringServices);
        _meteringOf[Role.UMSDS] = Add(Role.UMSO, "62", 0, options.UnmeteredSuppliesOperators);
        foreach (var role in OtherCentralRoles)
        {
            Add(role, (80 + (int)role).ToString(CultureInfo.InvariantCulture), 0, 1);
        }

        IndependentDistributors = [.. _participants.Where(p => p.Role == Role.LDSO).Skip(ConsumptionRoster.DistributorCount).Select(p => p.DipId)];
        StandingData = _participants.First(p => p.Role == Role.ISD).DipId;
        for (var i = 0; i < _participants.Count; i++)
        {
            _reception[_participants[i].DipId] = i % options.PullEvery == options.PullEvery - 1 ? Reception.Pull : Reception.Webhook;
        }

        Directory = new ParticipantDirectory(_participants);
    }

    /// <summary>The options the population was built from.</summary>
    public PopulationOptions Options { get; }

    /// <summary>The environment every participant belongs to.</summary>
    public MarketEnvironment Environment { get; }

    /// <summary>Suppliers, data services, GSP distributors, LSS and MDS, as the IF-021 builder knows them.</summary>
    public ConsumptionRoster Roster { get; }

    /// <summary>Every participant.</summary>
    public IReadOnlyList<Participant> Participants => _participants;

    /// <summary>The participants as a directory.</summary>
    public IParticipantDirectory Directory { get; }

    /// <summary>The registration services' DIP IDs.</summary>
    public IReadOnlyList<string> RegistrationServices { get; }

    /// <summary>The distributors that serve no GSP group's MPANs here (independent networks): they receive broadcasts only.</summary>
    public IReadOnlyList<string> IndependentDistributors { get; }

    /// <summary>The industry standing data service.</summary>
    public string StandingData { get; }

    /// <summary>The market-wide data service.</summary>
    public string MarketWideData => Roster.MarketWideData;

    /// <summary>How a participant receives.</summary>
    public Reception ReceptionOf(string dipId) => _reception[dipId];

    /// <summary>The registration service of an MPAN.</summary>
    public string RegistrationServiceOf(long mpan) => RegistrationServices[Pick(mpan, 0x7Eu, RegistrationServices.Count)];

    /// <summary>The data service appointed to an MPAN (an SDS, ADS or UMSDS: the MPAN's market segment).</summary>
    public string DataServiceOf(long mpan) => Roster.DataServiceOf(mpan);

    /// <summary>The metering service appointed to an MPAN: one of its segment's (MSS, MSA or UMSO).</summary>
    public string MeteringServiceOf(long mpan)
    {
        var services = _meteringOf[Find(DataServiceOf(mpan)).Role];
        return services[Pick(mpan, 0x65u, services.Count)];
    }

    /// <summary>The supplier appointed to an MPAN.</summary>
    public string SupplierOf(long mpan) => Roster.SupplierOf(mpan);

    /// <summary>The supplier an MPAN changes to (the next one in the list), for the MPANs that change supplier.</summary>
    public string IncomingSupplierOf(long mpan)
    {
        var current = Roster.SupplierOf(mpan);
        var index = 0;
        while (Roster.Suppliers[index] != current) index++;
        return Roster.Suppliers[(index + 1) % Roster.Suppliers.Count];
    }

    /// <summary>The participant with this DIP ID.</summary>
    public Participant Find(string dipId) => Directory.Find(Environment, dipId) ?? throw new KeyNotFoundException($"{dipId} is not in the simulated market.");

    /// <summary>The participant with this DIP ID as a party named in a message (DIP ID and MPID).</summary>
    public Halfhour.Client.Messages.MarketParty PartyOf(string dipId) => new(dipId, Find(dipId).Mpid);

    private static int Pick(long mpan, ulong salt, int count) => (int)(ConsumptionRoster.Mix((ulong)mpan ^ salt) % (ulong)count);

    private static int IndexOf(IReadOnlyList<string> ids, string id)
    {
        for (var i = 0; i < ids.Count; i++)
        {
            if (ids[i] == id) return i;
        }

        return -1;
    }

    private Role DataServiceRoleAt(int index) => (index / Options.DataServices) switch { 0 => Role.SDS, 1 => Role.ADS, _ => Role.UMSDS };

    private List<string> Add(Role role, string prefix, int first, int count)
    {
        var ids = new List<string>(count);
        for (var i = first; i < first + count; i++)
        {
            var dipId = prefix + (i + 1).ToString("D8", CultureInfo.InvariantCulture);
            // MPIDs unique across the added participants (the roster's end in X): the role's initial, two letters counting, Y.
            var n = _participants.Count;
            var mpid = string.Concat(role.ToString()[0], (char)('A' + n / 26 % 26), (char)('A' + n % 26), 'Y');
            _participants.Add(new Participant { DipId = dipId, Role = role, Mpid = mpid, Name = $"{role} {i + 1}", Environment = Environment });
            ids.Add(dipId);
        }

        return ids;
    }
}
