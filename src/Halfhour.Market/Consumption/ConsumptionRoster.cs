using System.Globalization;
using Halfhour.Market.Participants;

namespace Halfhour.Market.Consumption;

/// <summary>
/// The synthetic participants of generated consumption traffic: suppliers, smart data services, one distributor per
/// GSP group, and the central load shaping and market-wide data services. Each MPAN is appointed to one supplier and
/// one data service, chosen by a hash of the MPAN, so a generator, a simulator and a routing test agree on who is who.
/// </summary>
public sealed class ConsumptionRoster
{
    /// <summary>The GSP group of each distributor ID 10 … 23, the first two digits of an MPAN core.</summary>
    private static readonly string[] GspGroups = ["_A", "_B", "_C", "_D", "_E", "_F", "_G", "_P", "_N", "_J", "_H", "_K", "_L", "_M"];

    /// <summary>The first distributor ID of the GB public networks (Eastern, _A).</summary>
    public const int FirstDistributorId = 10;

    /// <summary>Builds a roster of the given size (the market has about 60 suppliers and 35 data services).</summary>
    public ConsumptionRoster(int suppliers = 60, int dataServices = 35)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(suppliers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(dataServices, 1);
        Suppliers = Ids("10", suppliers);
        DataServices = Ids("20", dataServices);
        Distributors = Ids("30", GspGroups.Length);
    }

    /// <summary>The suppliers' DIP IDs.</summary>
    public IReadOnlyList<string> Suppliers { get; }

    /// <summary>The (smart) data services' DIP IDs.</summary>
    public IReadOnlyList<string> DataServices { get; }

    /// <summary>The distributors' DIP IDs, one per distributor ID 10 … 23.</summary>
    public IReadOnlyList<string> Distributors { get; }

    /// <summary>The load shaping service's DIP ID.</summary>
    public string LoadShaping { get; } = "4000000001";

    /// <summary>The market-wide data service's DIP ID.</summary>
    public string MarketWideData { get; } = "5000000001";

    /// <summary>The number of distributors (GSP groups) an MPAN can belong to.</summary>
    public static int DistributorCount => GspGroups.Length;

    /// <summary>The supplier appointed to an MPAN.</summary>
    public string SupplierOf(long mpanCore) => Suppliers[Pick(mpanCore, 0x5u, Suppliers.Count)];

    /// <summary>The data service appointed to an MPAN.</summary>
    public string DataServiceOf(long mpanCore) => DataServices[Pick(mpanCore, 0xD5u, DataServices.Count)];

    /// <summary>The distributor of an MPAN, from its first two digits.</summary>
    public string DistributorOf(long mpanCore) => Distributors[DistributorIndex(mpanCore)];

    /// <summary>The GSP group of an MPAN, from its first two digits.</summary>
    public static string GspGroupOf(long mpanCore) => GspGroups[DistributorIndex(mpanCore)];

    /// <summary>Every participant of the roster, in one environment.</summary>
    public IReadOnlyList<Participant> Participants(MarketEnvironment environment)
    {
        var all = new List<Participant>();
        Add(all, Suppliers, Role.SUP, environment);
        Add(all, DataServices, Role.SDS, environment);
        Add(all, Distributors, Role.LDSO, environment);
        Add(all, [LoadShaping], Role.LSS, environment);
        Add(all, [MarketWideData], Role.MDS, environment);
        return all;
    }

    private static int DistributorIndex(long mpanCore) => (int)(mpanCore / 100_000_000_000L) - FirstDistributorId;

    private static int Pick(long mpanCore, ulong salt, int count) => (int)(Mix((ulong)mpanCore ^ salt) % (ulong)count);

    /// <summary>SplitMix64's finaliser: a cheap, well-spread hash of a 64-bit value.</summary>
    public static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    private static string[] Ids(string prefix, int count)
    {
        var ids = new string[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = prefix + (i + 1).ToString("D8", CultureInfo.InvariantCulture);
        }

        return ids;
    }

    private static void Add(List<Participant> all, IReadOnlyList<string> ids, Role role, MarketEnvironment environment)
    {
        for (var i = 0; i < ids.Count; i++)
        {
            var mpid = role.ToString()[0].ToString() + ((char)('A' + i / 26 % 26)).ToString() + ((char)('A' + i % 26)).ToString() + "X";
            all.Add(new Participant { DipId = ids[i], Role = role, Mpid = mpid, Name = $"{role} {i + 1}", Environment = environment });
        }
    }
}
