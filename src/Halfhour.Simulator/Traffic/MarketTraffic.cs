using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;
using Halfhour.Market.Rules;
using Halfhour.Market.TestData;
using Halfhour.Simulator.Population;

namespace Halfhour.Simulator.Traffic;

/// <summary>One message a stub sends: its channel, sender, MPAN, the recipients it names, and its bytes.</summary>
/// <param name="Channel">The interface (channel) it is published on.</param>
/// <param name="EventCode">The event code, without brackets.</param>
/// <param name="SenderDipId">The sending stub.</param>
/// <param name="Mpan">The MPAN core it is about, or 0 for a message about no metering point.</param>
/// <param name="DistributorDipId">M0.distributorDIPID, when it has an M0 block.</param>
/// <param name="Primary">The primary recipients the sender names.</param>
/// <param name="Bytes">The message, <c>{"payload":…}</c>.</param>
public sealed record PlannedMessage(string Channel, string EventCode, string SenderDipId, long Mpan, string? DistributorDipId, IReadOnlyList<string> Primary, byte[] Bytes);

/// <summary>
/// What each role's stub sends, as the catalogue has it: registration services send initial registrations (IF-001),
/// appointments of data and metering services (IF-036) and changes of supplier (IF-001); data services send each
/// day's consumption (IF-021) for the MPANs they are appointed to (as SDS, ADS or UMSDS); the market-wide data service sends defaulted
/// consumption (IF-013) for the MPANs whose data service sent nothing, and rejections (IF-014); industry standing data
/// sends notices to everyone (IF-047). IF-021 comes from <see cref="ConsumptionMessageBuilder"/>; the other interfaces
/// from <see cref="MessageGenerator"/> with the market's fields set to the simulated parties. What stubs send in answer
/// to what they receive is <see cref="Stubs.RoleBehaviour"/>'s.
/// </summary>
public sealed class MarketTraffic
{
    // One MPAN in twenty changes supplier, effective tomorrow: today's consumption still goes to the old supplier, while
    // the change itself is routed to both.
    private const ulong ChangeOfSupplierOneIn = 20;

    // One MPAN in fifty has no consumption from its data service on a day; the market-wide data service defaults it.
    private const ulong DefaultedOneIn = 50;

    // One MPAN in fifty has its consumption rejected (as a warning) by the market-wide data service.
    private const ulong RejectedOneIn = 50;

    // Appointments from a month ago: well before every settlement day simulated.
    private const int AppointedDaysAgo = 30;

    private readonly MarketPopulation _population;
    private readonly MessageGenerator _generator = new();
    private readonly string _run;
    private readonly long _firstNumber;
    private readonly DateOnly _today;
    private readonly ConsumptionMessageOptions _consumption;

    /// <summary>Traffic for <paramref name="mpans"/> metering points; <paramref name="run"/> keeps this run's sender references new to the backbone.</summary>
    public MarketTraffic(MarketPopulation population, int mpans, long run, DateOnly today)
    {
        ArgumentNullException.ThrowIfNull(population);
        ArgumentOutOfRangeException.ThrowIfLessThan(mpans, 1);
        _population = population;
        _run = run.ToString("x", CultureInfo.InvariantCulture);
        _today = today;
        // The message numbers of this run: the IF-021 builder derives MPAN and sender reference from them.
        _firstNumber = run % 1_000_000 * 10_000_000;
        _consumption = new ConsumptionMessageOptions { Environment = population.Environment, Seed = 2026, MeteringPoints = long.MaxValue };
        var builder = new ConsumptionMessageBuilder(_consumption, population.Roster);
        var seen = new HashSet<long>();
        var cores = new List<long>(mpans);
        for (long n = _firstNumber; cores.Count < mpans; n++)
        {
            if (seen.Add(builder.MpanOf(n))) cores.Add(n);
        }

        Numbers = cores;
        Mpans = [.. cores.Select(builder.MpanOf)];
    }

    /// <summary>The MPAN cores of the simulated metering points.</summary>
    public IReadOnlyList<long> Mpans { get; }

    private IReadOnlyList<long> Numbers { get; }

    /// <summary>True when the MPAN changes supplier in this run.</summary>
    public static bool ChangesSupplier(long mpan) => ConsumptionRoster.Mix((ulong)mpan ^ 0xC05UL) % ChangeOfSupplierOneIn == 0;

    /// <summary>True when the MPAN's data service sends nothing for <paramref name="day"/> (the market-wide data service defaults it).</summary>
    public static bool Defaulted(long mpan, int day) => ConsumptionRoster.Mix((ulong)mpan ^ (0xDEFUL + (ulong)day)) % DefaultedOneIn == 0;

    /// <summary>True when the market-wide data service rejects the MPAN's consumption of <paramref name="day"/>.</summary>
    public static bool Rejected(long mpan, int day) => !Defaulted(mpan, day) && ConsumptionRoster.Mix((ulong)mpan ^ (0x4E7UL + (ulong)day)) % RejectedOneIn == 1;

    /// <summary>How many messages the phases of a run of <paramref name="days"/> days with <paramref name="notices"/> notices send.</summary>
    public long Count(int days, int notices)
    {
        long count = 2L * Mpans.Count + Mpans.Count(ChangesSupplier) + notices;
        for (var day = 0; day < days; day++)
        {
            count += Mpans.Count + Mpans.Count(m => Rejected(m, day));
        }

        return count;
    }

    /// <summary>IF-001 initial registrations, from each MPAN's registration service to its supplier.</summary>
    public IEnumerable<PlannedMessage> Registrations()
    {
        var from = Instant(_today.AddDays(-AppointedDaysAgo));
        for (var i = 0; i < Mpans.Count; i++)
        {
            var mpan = Mpans[i];
            var supplier = _population.Roster.SupplierOf(mpan);
            yield return Generated("IF-001", "InitialRegistration", _population.RegistrationServiceOf(mpan), mpan, [supplier], i, m =>
            {
                var b002 = Block(m, "B002");
                b002["incomingSupplierDIPID"] = supplier;
                b002["incomingSupplierMPID"] = _population.Find(supplier).Mpid;
                b002["supplierEffectiveFromDate"] = from;
            });
        }
    }

    /// <summary>IF-036 appointments of each MPAN's data and metering services, to the supplier.</summary>
    public IEnumerable<PlannedMessage> Appointments()
    {
        var from = Instant(_today.AddDays(-AppointedDaysAgo));
        for (var i = 0; i < Mpans.Count; i++)
        {
            var mpan = Mpans[i];
            var dataService = _population.DataServiceOf(mpan);
            var meteringService = _population.MeteringServiceOf(mpan);
            yield return Generated("IF-036", "DSAppActive", _population.RegistrationServiceOf(mpan), mpan, [_population.Roster.SupplierOf(mpan)], i, m =>
            {
                var b015 = Block(m, "B015");
                b015["incomingDataServiceDIPID"] = dataService;
                b015["incomingDataServiceMPID"] = _population.Find(dataService).Mpid;
                b015["incomingDataServiceEffectiveFromDate"] = from;
                var b016 = Block(m, "B016");
                b016["incomingMeteringServiceDIPID"] = meteringService;
                b016["incomingMeteringServiceMPID"] = _population.Find(meteringService).Mpid;
                b016["incomingMeteringServiceEffectiveFromDate"] = from;
            });
        }
    }

    /// <summary>IF-001 changes of supplier, effective tomorrow, to the incoming supplier.</summary>
    public IEnumerable<PlannedMessage> ChangesOfSupplier()
    {
        var from = Instant(_today.AddDays(1));
        for (var i = 0; i < Mpans.Count; i++)
        {
            var mpan = Mpans[i];
            if (!ChangesSupplier(mpan)) continue;
            var incoming = _population.IncomingSupplierOf(mpan);
            yield return Generated("IF-001", "ChangeOfSupplier", _population.RegistrationServiceOf(mpan), mpan, [incoming], i, m =>
            {
                var b002 = Block(m, "B002");
                b002["incomingSupplierDIPID"] = incoming;
                b002["incomingSupplierMPID"] = _population.Find(incoming).Mpid;
                b002["supplierEffectiveFromDate"] = from;
            });
        }
    }

    /// <summary>IF-021 consumption of settlement day <paramref name="day"/> (0 = the earliest of <paramref name="days"/>, the last is yesterday).</summary>
    public IEnumerable<PlannedMessage> Consumption(int day, int days)
    {
        var builder = new ConsumptionMessageBuilder(_consumption with { FirstSettlementDay = _today.AddDays(day - days) }, _population.Roster);
        for (var i = 0; i < Mpans.Count; i++)
        {
            var mpan = Mpans[i];
            if (Defaulted(mpan, day)) continue;
            var sender = _population.DataServiceOf(mpan);
            yield return new PlannedMessage("IF-021", "ActivePower", sender, mpan, _population.Roster.DistributorOf(mpan),
                [_population.Roster.SupplierOf(mpan)], AsRole(builder.Build(Numbers[i]), sender, _population.Find(sender).Role));
        }
    }

    /// <summary>The market-wide data service's IF-013 defaults and IF-014 rejections for settlement day <paramref name="day"/>.</summary>
    public IEnumerable<PlannedMessage> Settlement(int day)
    {
        for (var i = 0; i < Mpans.Count; i++)
        {
            var mpan = Mpans[i];
            if (Defaulted(mpan, day))
            {
                yield return Generated("IF-013", "ActivePowerDefaulted", _population.MarketWideData, mpan, [_population.Roster.SupplierOf(mpan)], i * 1000 + day, _ => { });
            }
            else if (Rejected(mpan, day))
            {
                yield return Generated("IF-014", "ActivePowerRejected", _population.MarketWideData, mpan, [_population.Roster.DataServiceOf(mpan)], i * 1000 + day, _ => { });
            }
        }
    }

    /// <summary>IF-047 standing-data notices (a new downloadable file), to every participant.</summary>
    public IEnumerable<PlannedMessage> StandingDataNotices(int count)
    {
        for (var i = 0; i < count; i++)
        {
            yield return Generated("IF-047", "ISD", _population.StandingData, 0, [], i, _ => { });
        }
    }

    private PlannedMessage Generated(string channel, string eventCode, string sender, long mpan, IReadOnlyList<string> primary, int number, Action<JsonObject> custom)
    {
        if (!InterfaceCatalogue.Specification.TryGetVariant(channel, eventCode, out var variant))
        {
            throw new InvalidOperationException($"The catalogue has no {channel} [{eventCode}].");
        }

        var message = _generator.Generate(variant, unchecked((int)ConsumptionRoster.Mix((ulong)number ^ (ulong)mpan)));
        var common = (JsonObject)message["payload"]!["CommonBlock"]!;
        var s1 = (JsonObject)common["S1"]!;
        var role = _population.Find(sender).Role.ToString();
        s1["environmentTag"] = _population.Environment.ToString();
        s1["senderDIPID"] = sender;
        s1["senderRoleID"] = role;
        s1["senderTimestamp"] = MarketDateTime.Format(DateTimeOffset.UtcNow);
        s1["senderUniqueReference"] = $"S-{channel}-{sender}-{role}-{_today:yyyyMMdd}-{_run}x{eventCode.Length}x{number}";
        common["A0"] = new JsonObject { ["primaryRecipients"] = new JsonArray([.. primary.Select(p => (JsonNode)p)]), ["secondaryRecipients"] = new JsonArray(), ["always"] = new JsonArray() };
        string? distributor = null;
        if (mpan != 0 && common["M0"] is JsonObject m0)
        {
            distributor = _population.Roster.DistributorOf(mpan);
            m0["MPANCore"] = mpan.ToString(CultureInfo.InvariantCulture);
            m0["distributorDIPID"] = distributor;
            m0["GSPGroupID"] = ConsumptionRoster.GspGroupOf(mpan);
        }

        custom((JsonObject)message["payload"]!["CustomBlock"]!);
        return new PlannedMessage(channel, eventCode, sender, mpan, distributor, primary, MessageGenerator.ToUtf8(message));
    }

    /// <summary>
    /// An IF-021 of the consumption builder (which writes every data service as an SDS) as its sender's role sends it:
    /// S1.senderRoleID and the role in the sender unique reference.
    /// </summary>
    private static byte[] AsRole(byte[] message, string sender, Role role)
    {
        if (role == Role.SDS) return message;
        var text = Encoding.UTF8.GetString(message)
            .Replace($"\"S-IF-021-{sender}-SDS-", $"\"S-IF-021-{sender}-{role}-", StringComparison.Ordinal)
            .Replace("\"senderRoleID\":\"SDS\"", $"\"senderRoleID\":\"{role}\"", StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(text);
    }

    private static JsonObject Block(JsonObject custom, string name) =>
        custom[name] as JsonObject ?? throw new InvalidOperationException($"The generated message has no {name} block.");

    private static string Instant(DateOnly day) => MarketDateTime.Format(new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero));
}
