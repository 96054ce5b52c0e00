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

/// <summary>The size of a simulated market; the defaults are the reference model's (DESIGN.md, "The market in numbers").</summary>
public sealed record PopulationOptions
{
    /// <summary>Suppliers (SUP).</summary>
    public int Suppliers { get; init; } = 60;

    /// <summary>Distribution network operators (LDSO): one per GSP group, the rest independent networks.</summary>
    public int Distributors { get; init; } = 17;

    /// <summary>Registration services (REGS).</summary>
    public int RegistrationServices { get; init; } = 27;

    /// <summary>Data services (SDS).</summary>
    public int DataServices { get; init; } = 35;

    /// <summary>Metering services (MSS).</summary>
    public int MeteringServices { get; init; } = 85;

    /// <summary>One stub in this many receives by pull, the others by webhook, so both paths are exercised.</summary>
    public int PullEvery { get; init; } = 5;
}

/// <summary>
/// The participants of a simulated market and who serves each MPAN. Suppliers, data services, the GSP groups'
/// distributors and the load shaping and market-wide data services are the <see cref="ConsumptionRoster"/>'s (so the
/// IF-021 builder names the same parties); registration and metering services, the independent networks and the other
/// central services (ISD, VAS, EES, MDR, DCC, ECS) are added here. Deterministic: two processes given the same options
/// agree on every DIP ID and every appointment.
/// </summary>
public sealed class MarketPopulation
{
    /// <summary>The central services beside LSS and MDS: one participant each.</summary>
    private static readonly Role[] OtherCentralRoles = [Role.ISD, Role.VAS, Role.EES, Role.MDR, Role.DCC, Role.ECS];

    private readonly List<Participant> _participants = [];
    private readonly Dictionary<string, Reception> _reception = new(StringComparer.Ordinal);

    /// <summary>Builds the population in <paramref name="environment"/>.</summary>
    public MarketPopulation(PopulationOptions options, MarketEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Distributors, ConsumptionRoster.DistributorCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.RegistrationServices, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MeteringServices, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PullEvery, 1);
        Options = options;
        Environment = environment;
        Roster = new ConsumptionRoster(options.Suppliers, options.DataServices);
        _participants.AddRange(Roster.Participants(environment));
        Add(Role.LDSO, "30", ConsumptionRoster.DistributorCount, options.Distributors - ConsumptionRoster.DistributorCount);
        RegistrationServices = Add(Role.REGS, "70", 0, options.RegistrationServices);
        MeteringServices = Add(Role.MSS, "60", 0, options.MeteringServices);
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

    /// <summary>The metering services' DIP IDs.</summary>
    public IReadOnlyList<string> MeteringServices { get; }

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

    /// <summary>The metering service appointed to an MPAN.</summary>
    public string MeteringServiceOf(long mpan) => MeteringServices[Pick(mpan, 0x65u, MeteringServices.Count)];

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

    private static int Pick(long mpan, ulong salt, int count) => (int)(ConsumptionRoster.Mix((ulong)mpan ^ salt) % (ulong)count);

    private List<string> Add(Role role, string prefix, int first, int count)
    {
        var ids = new List<string>(count);
        for (var i = first; i < first + count; i++)
        {
            var dipId = prefix + (i + 1).ToString("D8", CultureInfo.InvariantCulture);
            var mpid = string.Concat(role.ToString()[0], (char)('A' + i / 26 % 26), (char)('A' + i % 26), 'Y');
            _participants.Add(new Participant { DipId = dipId, Role = role, Mpid = mpid, Name = $"{role} {i + 1}", Environment = Environment });
            ids.Add(dipId);
        }

        return ids;
    }
}
