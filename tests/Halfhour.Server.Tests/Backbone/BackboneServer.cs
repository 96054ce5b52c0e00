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

    public static async Task<BackboneServer> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var server = new BackboneServer(settings ?? []);
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
    public X509Certificate2 CertificateOf(string dipId) => _certificates.GetOrAdd(dipId, id =>
    {
        var participant = Registry.Find(new ParticipantKey(Environment, id)) ?? throw new ArgumentException($"No participant {id}.", nameof(dipId));
        var issued = Server.Sandbox.Authority.IssueClientCertificate(id, participant.Participant.Name);
        Registry.AddCertificate(participant.Key, issued.Certificate);
        return issued.Certificate;
    });

    /// <summary>A signing client for a participant, as the SDK makes it (mutual TLS with its certificate).</summary>
    public HttpClient ClientOf(string dipId) => DipHttpClient.Create(new DipConnection
    {
        BaseAddress = Server.BaseAddress, Certificate = CertificateOf(dipId), ServerTrust = Trust,
    });

    /// <summary>The sender of consumption for generated message <paramref name="number"/>.</summary>
    public string SenderOf(long number) => Roster.DataServiceOf(Builder.MpanOf(number));

    public byte[] Batch(params long[] numbers) =>
        Encoding.UTF8.GetBytes("[" + string.Join(",", numbers.Select(n => Encoding.UTF8.GetString(Builder.Build(n)))) + "]");

    public static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
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
