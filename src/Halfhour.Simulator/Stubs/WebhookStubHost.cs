using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Halfhour.Client.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Halfhour.Simulator.Stubs;

/// <summary>
/// The webhooks of every webhook stub, served by one local HTTP listener on 127.0.0.1 (the sandbox allows plain
/// HTTP to this machine): <c>POST /hooks/{dipId}/{channel}</c>. Each push must carry a valid DIP signature by the
/// backbone's certificate, or it is refused with 401 and noted as a fault of the stub; <c>/hooks/{dipId}/statusmessage</c>
/// takes the status messages about the stub's own messages; a stub that is down answers 503,
/// so the backbone keeps the messages and retries. A taken push is answered 201.
/// </summary>
public sealed class WebhookStubHost : IAsyncDisposable
{
    /// <summary>The channel of status messages (<c>/statusmessage/config</c>), whose pushes are arrays of status messages.</summary>
    public const string StatusChannel = "statusmessage";

    private readonly WebApplication _app;
    private readonly IReadOnlyDictionary<string, StubInbox> _inboxes;
    private readonly DipSignatureVerifier _verifier = new();
    private readonly IReadOnlySet<string> _backbone;

    private WebhookStubHost(WebApplication app, IReadOnlyDictionary<string, StubInbox> inboxes, X509Certificate2 backboneCertificate)
    {
        _app = app;
        _inboxes = inboxes;
        _backbone = new HashSet<string>([DipSignatureVerifier.Thumbprint(backboneCertificate)], StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The listener's base address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The callback URL of a stub's channel.</summary>
    public Uri CallbackOf(string dipId, string channel) => new(BaseAddress, $"hooks/{dipId}/{channel}");

    /// <summary>Starts listening for the stubs of <paramref name="inboxes"/>, trusting pushes signed by <paramref name="backboneCertificate"/>.</summary>
    public static async Task<WebhookStubHost> StartAsync(IReadOnlyDictionary<string, StubInbox> inboxes, X509Certificate2 backboneCertificate, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            // A push of 100 IF-021 messages is about 600 KB; a thousand, 6 MB.
            k.Limits.MaxRequestBodySize = 16 << 20;
        });
        var app = builder.Build();
        var host = new WebhookStubHost(app, inboxes, backboneCertificate);
        app.MapPost("/hooks/{dipId}/{channel}", host.ReceiveAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        host.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
        return host;
    }

    private async Task<IResult> ReceiveAsync(string dipId, string channel, HttpContext http)
    {
        if (!_inboxes.TryGetValue(dipId, out var inbox)) return Results.NotFound();
        if (inbox.IsDown) return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);

        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, http.RequestAborted).ConfigureAwait(false);
        var body = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        var headers = DipSignatureHeaders.Read(name => http.Request.Headers.TryGetValue(name, out var value) ? value.ToString() : null);
        var verdict = _verifier.Verify("POST", http.Request.GetEncodedUrl(), headers, body, _backbone);
        if (!verdict.IsValid)
        {
            inbox.Fault($"a push to {channel} was not signed by the backbone: {verdict}");
            return Results.StatusCode(StatusCodes.Status401Unauthorized);
        }

        var reader = new Utf8JsonReader(body);
        using var document = JsonDocument.ParseValue(ref reader);
        foreach (var message in document.RootElement.EnumerateArray())
        {
            if (channel == StatusChannel) inbox.RecordStatus(message);
            else inbox.Record(channel, message);
        }

        return Results.StatusCode(StatusCodes.Status201Created);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
