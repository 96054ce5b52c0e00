using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Halfhour.Client.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Halfhour.Server.Tests.Backbone;

/// <summary>One message a receiver took; <paramref name="Status"/> is the whole message when it is a status message.</summary>
public sealed record Received(string TransactionId, string Mpan, bool Replay, string? Reference = null, JsonObject? Status = null);

/// <summary>
/// A participant's webhook on 127.0.0.1 (plain HTTP, as the sandbox allows): a real Kestrel that verifies the backbone's
/// DIP signature on every POST against the backbone's certificate, then answers as <see cref="Behaviour"/> says.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly DipSignatureVerifier _verifier = new();
    private readonly HashSet<string> _backbone;
    private int _attempts;

    private WebhookReceiver(WebApplication app, X509Certificate2 backboneCertificate)
    {
        _app = app;
        _backbone = [DipSignatureVerifier.Thumbprint(backboneCertificate)];
    }

    /// <summary>Given the attempt number (from 1) and the messages of a POST, what to answer; null answers 201 (all taken).</summary>
    public Func<int, IReadOnlyList<Received>, Task<IResult?>>? Behaviour { get; set; }

    /// <summary>The messages of every POST answered 2xx, in arrival order (for a 207, only those it reported taken).</summary>
    public ConcurrentQueue<Received> Taken { get; } = new();

    /// <summary>How many POSTs arrived, and how many carried a bad signature.</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    public int BadSignatures { get; private set; }

    public Uri Url { get; private set; } = null!;

    public static async Task<WebhookReceiver> StartAsync(X509Certificate2 backboneCertificate)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app, backboneCertificate);
        app.MapPost("/hook", (Func<HttpContext, Task<IResult>>)receiver.ReceiveAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Url = new Uri(new Uri(address), "/hook");
        return receiver;
    }

    /// <summary>Waits until the receiver has taken every one of the transaction IDs.</summary>
    public async Task WaitForAsync(IEnumerable<string> transactionIds, TimeSpan timeout)
    {
        var wanted = transactionIds.ToHashSet(StringComparer.Ordinal);
        var deadline = DateTime.UtcNow + timeout;
        while (!wanted.IsSubsetOf(Taken.Select(t => t.TransactionId)))
        {
            Assert.True(DateTime.UtcNow < deadline,
                $"the receiver took {Taken.Count} messages in {Attempts} POSTs, still missing {string.Join(", ", wanted.Except(Taken.Select(t => t.TransactionId)))}");
            await Task.Delay(50);
        }
    }

    private async Task<IResult> ReceiveAsync(HttpContext http)
    {
        var attempt = Interlocked.Increment(ref _attempts);
        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var headers = DipSignatureHeaders.Read(name => http.Request.Headers.TryGetValue(name, out var v) ? v.ToString() : null);
        var url = $"{http.Request.Scheme}://{http.Request.Host}{http.Request.Path}";
        if (!_verifier.Verify("POST", url, headers, body, _backbone).IsValid)
        {
            BadSignatures++;
            return Results.StatusCode(StatusCodes.Status401Unauthorized);
        }

        var messages = JsonNode.Parse(body)!.AsArray().Select(m =>
        {
            if (m!["payload"] is null) return new Received(m["transactionID"]!.GetValue<string>(), "", false, Status: m.AsObject());
            var common = m!["payload"]!["CommonBlock"]!;
            return new Received(common["D0"]!["transactionID"]!.GetValue<string>(), common["M0"]?["MPANCore"]?.GetValue<string>() ?? "",
                common["D0"]!["replayIndicator"]?.GetValue<bool>() ?? false, common["S1"]?["senderUniqueReference"]?.GetValue<string>());
        }).ToList();

        var answer = Behaviour is null ? null : await Behaviour(attempt, messages);
        if (answer is null)
        {
            foreach (var message in messages) Taken.Enqueue(message);
            return Results.StatusCode(StatusCodes.Status201Created);
        }

        return answer;
    }

    /// <summary>A 207 StandardResponse taking all but <paramref name="refused"/>; records the taken ones.</summary>
    public IResult PartlyTaken(IReadOnlyList<Received> messages, ISet<string> refused)
    {
        var entries = new JsonArray();
        foreach (var message in messages)
        {
            var ok = !refused.Contains(message.TransactionId);
            if (ok) Taken.Enqueue(message);
            entries.Add(new JsonObject
            {
                ["transactionID"] = message.TransactionId,
                ["message"] = ok ? "MSG0000 - Success" : "MSG1001 - Schema Failure",
            });
        }

        return Results.Content(new JsonObject { ["messageArray"] = entries, ["timestamp"] = "2026-11-27T09:00:00+00:00" }.ToJsonString(),
            "application/json", statusCode: StatusCodes.Status207MultiStatus);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
