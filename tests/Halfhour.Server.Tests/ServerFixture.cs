using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Halfhour.Client.Contract;
using Halfhour.Client.Transport;
using Halfhour.Market.Participants;
using Halfhour.Market.Validation;
using Halfhour.Server.Hosting;
using Halfhour.Server.Publishing;
using Halfhour.Server.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Halfhour.Server.Tests;

/// <summary>
/// Two real servers on 127.0.0.1 with ephemeral ports and real TLS, sharing one sandbox in a temp directory:
/// <see cref="Main"/> with a test publish handler and small limits, <see cref="Bare"/> with no publish handler and
/// a tight rate limit. Started one after the other, so the sandbox is created once and then reused.
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const int MaxBodyBytes = 64 * 1024;
    public const int MaxMessages = 10;
    public const int MaxDepth = 16;
    public const int BareBurst = 2;

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "halfhour-server-tests-" + Guid.NewGuid().ToString("N"));
    public RecordingPublishHandler Publisher { get; } = new();
    public RunningServer Main { get; private set; } = null!;
    public RunningServer Bare { get; private set; } = null!;
    public SandboxCredentials Sandbox => Main.Sandbox;
    public PrivateCaTrust Trust { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Main = await HalfhourServer.StartAsync([], b =>
        {
            Configure(b, new()
            {
                ["Halfhour:Limits:MaxRequestBodyBytes"] = MaxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Halfhour:Limits:MaxMessagesPerRequest"] = MaxMessages.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Halfhour:Limits:MaxJsonDepth"] = MaxDepth.ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
            b.Services.AddSingleton<IPublishHandler>(Publisher);
        });
        Bare = await HalfhourServer.StartAsync([], b => Configure(b, new()
        {
            ["Halfhour:Limits:RequestBurst"] = BareBurst.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Halfhour:Limits:RequestsPerSecond"] = "1",
        }));
        Trust = PrivateCaTrust.FromPemFile(Sandbox.AuthorityCertificatePath);
    }

    public async Task DisposeAsync()
    {
        await Main.DisposeAsync();
        await Bare.DisposeAsync();
        Directory.Delete(DataDirectory, recursive: true);
    }

    public SandboxParticipant Participant(Role role) => Sandbox.For(role);

    public X509Certificate2 CertificateOf(Role role) =>
        PemCredentials.Load(Participant(role).CertificatePath, Participant(role).PrivateKeyPath);

    /// <summary>An HTTP client (the SDK's) that trusts the sandbox CA and presents the given credentials, unsigned.</summary>
    public HttpClient Client(RunningServer server, X509Certificate2? certificate = null, string? apiKey = null) =>
        DipHttpClient.Create(new DipConnection
        {
            BaseAddress = server.BaseAddress, Certificate = certificate, ApiKey = apiKey, ServerTrust = Trust, SignRequests = false,
        });

    /// <summary>A client for a sandbox participant as the SDK makes it: its certificate for mutual TLS, and signing with its key.</summary>
    public HttpClient SigningClient(Role role, RunningServer? server = null) =>
        DipHttpClient.Create(new DipConnection { BaseAddress = (server ?? Main).BaseAddress, Certificate = CertificateOf(role), ServerTrust = Trust });

    public static ByteArrayContent Json(string body)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private void Configure(WebApplicationBuilder builder, Dictionary<string, string?> settings)
    {
        settings["Halfhour:DataDirectory"] = DataDirectory;
        settings["Halfhour:Port"] = "0";
        settings["Halfhour:Backbone:Enabled"] = "false"; // these two share one data directory and test the HTTP layer only
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
    }
}

[CollectionDefinition(Name)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}

/// <summary>The test's publish handler: records what reached it and accepts every message; channel IF-999 throws.</summary>
public sealed class RecordingPublishHandler : IPublishHandler
{
    public const string ThrowingChannel = "IF-999";

    public PublishRequest? Last { get; private set; }
    public string? LastBody { get; private set; }

    public ValueTask<PublishOutcome> PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        if (request.ChannelId == ThrowingChannel) throw new InvalidOperationException("the broker fell over");
        Last = request;
        LastBody = Encoding.UTF8.GetString(request.Body.Span);
        var results = Enumerable.Range(0, request.MessageCount).Select(i => new MessageResponse(
            $"T-{request.ChannelId}-{i}", $"S-{i}", null, "2026-11-27T08:00:00+00:00", request.Sender.Participant.DipId, null, null,
            MessageCodes.Display(MessageCode.Success), null, null)).ToList();
        return ValueTask.FromResult(new PublishOutcome(201, results));
    }
}
