using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Halfhour.Client.Transport;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;
using Halfhour.Server.Credentials;
using Halfhour.Server.Hosting;
using Halfhour.Server.Participants;
using Halfhour.Server.Sandbox;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Halfhour.Server.Tests.Backbone;

/// <summary>
/// A real server with the backbone on, in its own data directory, over real TLS; the consumption roster's
/// participants (DEV) registered beside the sandbox's, with certificates issued by the sandbox CA on first use.
/// Can be stopped and started again on the same directory, as a restart does.
/// </summary>
public sealed class BackboneServer : IAsyncDisposable
{
    private readonly Dictionary<string, string?> _settings;
    private readonly ConcurrentDictionary<string, X509Certificate2> _certificates = new(StringComparer.Ordinal);

    private BackboneServer(Dictionary<string, string?> settings)
    {
        _settings = settings;
    }

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "halfhour-backbone-" + Guid.NewGuid().ToString("N"));
    public RunningServer Server { get; private set; } = null!;
    public ConsumptionRoster Roster { get; } = new(suppliers: 2, dataServices: 2);
    public ConsumptionMessageBuilder Builder { get; private set; } = null!;
    public PrivateCaTrust Trust { get; private set; } = null!;
    public ParticipantRegistry Registry => Server.App.Services.GetRequiredService<ParticipantRegistry>();
    public BackboneHost Host => Server.App.Services.GetRequiredService<BackboneHost>();

    public static MarketEnvironment Environment => MarketEnvironment.DEV;

    // Creating a sandbox generates an RSA key per role (seconds on a small machine): done once per test run, then copied.
    private static readonly Lazy<string> s_template = new(() =>
    {
        var template = Path.Combine(Path.GetTempPath(), "halfhour-backbone-template-" + Guid.NewGuid().ToString("N"));
        var registry = ParticipantRegistry.Open(Path.Combine(template, "registry", "participants.json"));
        SandboxProvisioner.EnsureCreated(template, registry).Dispose();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(template, recursive: true);
        return template;
    });

    public static async Task<BackboneServer> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var server = new BackboneServer(settings ?? []);
        CopyDirectory(s_template.Value, server.DataDirectory);
        await server.StartAsync();
        server.Builder = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { Environment = Environment, MeteringPoints = 5_000, Seed = 11 }, server.Roster);
        foreach (var participant in server.Roster.Participants(Environment))
        {
            if (server.Registry.Find(new ParticipantKey(participant.Environment, participant.DipId)) is null)
            {
                server.Registry.Add(participant, [], [ApiKeys.Hash(ApiKeyOf(participant.DipId))]);
            }
        }

        return server;
    }

    public async Task StartAsync()
    {
        _settings["Halfhour:DataDirectory"] = DataDirectory;
        _settings["Halfhour:Port"] = "0";
        Server = await HalfhourServer.StartAsync([], b =>
        {
            b.Configuration.AddInMemoryCollection(_settings);
            b.Logging.ClearProviders();
        });
        Trust ??= PrivateCaTrust.FromPemFile(Server.Sandbox.AuthorityCertificatePath);
    }

    public async Task RestartAsync()
    {
        await Server.DisposeAsync();
        await StartAsync();
    }

    public static string ApiKeyOf(string dipId) => "test-key-" + dipId;

    /// <summary>The participant's certificate, issued by the sandbox CA and registered on first use (RSA: it signs).</summary>
    public X509Certificate2 CertificateOf(string dipId, MarketEnvironment? environment = null) =>
        _certificates.GetOrAdd($"{environment ?? Environment}/{dipId}", _ =>
        {
            var participant = Registry.Find(new ParticipantKey(environment ?? Environment, dipId)) ?? throw new ArgumentException($"No participant {dipId}.", nameof(dipId));
            var issued = Server.Sandbox.Authority.IssueClientCertificate(dipId, participant.Participant.Name);
            Registry.AddCertificate(participant.Key, issued.Certificate);
            return issued.Certificate;
        });

    /// <summary>A signing client for a participant, as the SDK makes it (mutual TLS with its certificate).</summary>
    public HttpClient ClientOf(string dipId, MarketEnvironment? environment = null) => DipHttpClient.Create(new DipConnection
    {
        BaseAddress = Server.BaseAddress, Certificate = CertificateOf(dipId, environment), ServerTrust = Trust,
    });

    /// <summary>Registers a participant (API key only until <see cref="CertificateOf"/> issues it a certificate).</summary>
    public void Register(Participant participant)
    {
        if (Registry.Find(new ParticipantKey(participant.Environment, participant.DipId)) is null)
        {
            Registry.Add(participant, [], [ApiKeys.Hash(ApiKeyOf(participant.Environment + participant.DipId))]);
        }
    }

    /// <summary>The sender of consumption for generated message <paramref name="number"/>.</summary>
    public string SenderOf(long number) => Roster.DataServiceOf(Builder.MpanOf(number));

    public byte[] Batch(params long[] numbers) => BatchOnDay(0, numbers);

    /// <summary>Messages for the settlement day <paramref name="day"/> days after the first: same MPANs, new references.</summary>
    public byte[] BatchOnDay(int day, params long[] numbers)
    {
        var builder = _builders.GetOrAdd(day, d => new ConsumptionMessageBuilder(new ConsumptionMessageOptions
        {
            Environment = Environment, MeteringPoints = 5_000, Seed = 11, FirstSettlementDay = new DateOnly(2025, 1, 15).AddDays(d),
        }, Roster));
        return Encoding.UTF8.GetBytes("[" + string.Join(",", numbers.Select(n => Encoding.UTF8.GetString(builder.Build(n)))) + "]");
    }

    private readonly ConcurrentDictionary<int, ConsumptionMessageBuilder> _builders = new();

    /// <summary>Publishes the generated messages for a settlement day, each from its sender; their transaction IDs in order.</summary>
    public async Task<List<string>> PublishAsync(int day, params long[] numbers)
    {
        var ids = new List<string>();
        foreach (var group in numbers.GroupBy(SenderOf))
        {
            using var client = ClientOf(group.Key);
            using var response = await client.PostAsync(new Uri("/dip-channel/IF-021", UriKind.Relative), Json(BatchOnDay(day, [.. group])));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, text);
            ids.AddRange(System.Text.Json.Nodes.JsonNode.Parse(text)!["messageArray"]!.AsArray().Select(m => m!["transactionID"]!.GetValue<string>()));
        }

        return ids;
    }

    public static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    internal static void CopyDirectory(string from, string to)
    {
        foreach (var directory in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(directory.Replace(from, to, StringComparison.Ordinal));
        }

        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, file.Replace(from, to, StringComparison.Ordinal));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        foreach (var certificate in _certificates.Values) certificate.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One backbone server shared by a collection of tests, started with the given settings.</summary>
public abstract class BackboneServerFixture(Dictionary<string, string?> settings) : IAsyncLifetime
{
    public BackboneServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await BackboneServer.StartAsync(settings);

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
