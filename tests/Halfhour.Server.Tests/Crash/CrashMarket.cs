using System.Text.Json;
using System.Text.Json.Serialization;
using Halfhour.Client.Transport;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;

namespace Halfhour.Server.Tests.Crash;

/// <summary>One participant of the crash test with the client that speaks for it (mutual TLS, API key, signatures).</summary>
public sealed record CrashParticipant(string DipId, Role Role, HttpClient Client)
{
    /// <summary>Its certificate (mutual TLS and signing), to connect to another server of a cluster.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate { get; init; } = null!;

    /// <summary>Its API key.</summary>
    public string ApiKey { get; init; } = "";
}

/// <summary>
/// The market of the crash test: the consumption roster (two data services sending, suppliers, distributors and the
/// central services receiving), enrolled through the operator API of the server process, plus the sandbox's own load
/// shaping and market-wide data services, which receive every consumption message too.
/// </summary>
public sealed class CrashMarket : IDisposable
{
    public const MarketEnvironment Environment = MarketEnvironment.DEV;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    private CrashMarket(ConsumptionRoster roster, ConsumptionMessageBuilder builder, List<CrashParticipant> participants)
    {
        Roster = roster;
        Builder = builder;
        Participants = participants;
    }

    public ConsumptionRoster Roster { get; }

    public ConsumptionMessageBuilder Builder { get; }

    public IReadOnlyList<CrashParticipant> Participants { get; }

    /// <summary>Everyone who receives IF-021: suppliers, distributors, load shaping and market-wide data services.</summary>
    public IEnumerable<CrashParticipant> Recipients => Participants.Where(p => p.Role is Role.SUP or Role.LDSO or Role.LSS or Role.MDS);

    /// <summary>Who must receive consumption message <paramref name="number"/>: its supplier, its distributor and every central service.</summary>
    public IEnumerable<string> RecipientsOf(long number)
    {
        var mpan = Builder.MpanOf(number);
        yield return Roster.SupplierOf(mpan);
        yield return Roster.DistributorOf(mpan);
        foreach (var central in Participants.Where(p => p.Role is Role.LSS or Role.MDS))
        {
            yield return central.DipId;
        }
    }

    public CrashParticipant Sender(string dipId) => Participants.Single(p => p.DipId == dipId);

    /// <summary>Enrols the roster in the running server and connects every participant.</summary>
    public static async Task<CrashMarket> EnrolAsync(ServerProcess server)
    {
        var roster = new ConsumptionRoster(suppliers: 2, dataServices: 2);
        var builder = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { Environment = Environment, MeteringPoints = 10_000, Seed = 11 }, roster);
        var trust = server.Trust;
        var operatorKey = (await File.ReadAllTextAsync(Path.Combine(server.SandboxDirectory, "operator-api-key.txt"))).Trim();
        using var operatorApi = new OperatorClient(server.BaseAddress, trust, operatorKey);
        var participants = new List<CrashParticipant>();
        foreach (var p in roster.Participants(Environment))
        {
            var issued = await operatorApi.EnrolAsync(p.DipId, p.Role.ToString(), p.Mpid, p.Name, Environment.ToString());
            var certificate = issued.LoadCertificate();
            participants.Add(new CrashParticipant(p.DipId, p.Role, Connect(server, trust, certificate, issued.ApiKey)) { Certificate = certificate, ApiKey = issued.ApiKey });
        }

        foreach (var entry in JsonSerializer.Deserialize<List<SandboxEntry>>(await File.ReadAllBytesAsync(Path.Combine(server.SandboxDirectory, "participants.json")), Json)!)
        {
            if (entry.Role is Role.LSS or Role.MDS)
            {
                var certificate = PemCredentials.Load(entry.Certificate, entry.PrivateKey);
                participants.Add(new CrashParticipant(entry.DipId, entry.Role, Connect(server, trust, certificate, entry.ApiKey)) { Certificate = certificate, ApiKey = entry.ApiKey });
            }
        }

        return new CrashMarket(roster, builder, participants);
    }

    public void Dispose()
    {
        foreach (var participant in Participants)
        {
            participant.Client.Dispose();
        }
    }

    /// <summary>A client of <paramref name="participant"/> to another server of the same deployment (a cluster node).</summary>
    public static HttpClient ConnectTo(ServerProcess server, CrashParticipant participant) =>
        Connect(server, server.Trust, participant.Certificate, participant.ApiKey);

    // Short timeouts: a request to a killed server must fail soon, not hang the test.
    private static HttpClient Connect(ServerProcess server, PrivateCaTrust trust, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate, string apiKey)
    {
        var client = DipHttpClient.Create(new DipConnection { BaseAddress = server.BaseAddress, Certificate = certificate, ApiKey = apiKey, ServerTrust = trust });
        client.Timeout = TimeSpan.FromSeconds(10);
        return client;
    }

    private sealed record SandboxEntry(string DipId, Role Role, string ApiKey, string Certificate, string PrivateKey);
}
