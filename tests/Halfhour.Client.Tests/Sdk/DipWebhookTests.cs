using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using Halfhour.Client.AspNetCore;
using Halfhour.Client.Messages;
using Halfhour.Client.Signing;
using Halfhour.Client.Transport;
using Halfhour.Market.Participants;
using Halfhour.Server.Tests.Backbone;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Halfhour.Client.Tests.Sdk;

/// <summary>The SDK's ASP.NET Core webhook receiver, pushed to by a real backbone and by a forger.</summary>
[Collection(SdkCollection.Name)]
public sealed class DipWebhookTests(SdkServerFixture fixture)
{
    private BackboneServer Server => fixture.Server;

    [Fact]
    public async Task The_receiver_takes_a_genuine_backbone_push_and_a_refused_message_is_offered_again()
    {
        // The distributor of this MPAN receives only this test's messages on this server.
        const long number = 9001;
        var mpan = Server.Builder.MpanOf(number);
        var distributor = Server.Roster.DistributorOf(mpan);
        var refuseOnce = new ConcurrentDictionary<string, int>();
        var taken = new ConcurrentQueue<DipMessage>();
        await using var receiver = await ReceiverAsync(Server.Server.Sandbox.BackboneCertificate, (message, _) =>
        {
            if (message.CustomBlock?["B900"]?["settlementDayConsumptionPeriods"]?[0]?["settlementDay"]?["settlementDayDate"]?.GetValue<string>() == "2025-05-02T00:00:00+00:00"
                && refuseOnce.AddOrUpdate(message.TransactionId!, 1, (_, n) => n + 1) == 1)
            {
                return Task.FromResult(MessageVerdict.Refuse("MSG1002 - Semantic Failure", "not today"));
            }

            taken.Enqueue(message);
            return Task.FromResult(MessageVerdict.Accept);
        });
        using var ldso = new DipClient(fixture.OptionsOf(distributor, Role.LDSO));
        await ldso.RegisterWebhookAsync("IF-021", receiver.Url);
        try
        {
            using var sender = fixture.DataServiceFor(number);
            var sent = await sender.SendAsync([sender.Build(fixture.ConsumptionFor(number, new DateOnly(2025, 5, 1))), sender.Build(fixture.ConsumptionFor(number, new DateOnly(2025, 5, 2)))]);
            Assert.True(sent.AllAccepted);

            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (taken.Count < 2 && DateTime.UtcNow < deadline) await Task.Delay(50);

            Assert.Equal(sent.Messages.Select(m => m.TransactionId).Order(), taken.Select(m => m.TransactionId).Order());
            Assert.Equal(2, refuseOnce.Values.Single()); // refused in a 207, offered again, taken
            Assert.All(taken, m => Assert.Equal(mpan.ToString(System.Globalization.CultureInfo.InvariantCulture), m.Mpan));
        }
        finally
        {
            await ldso.RemoveWebhookAsync("IF-021");
        }
    }

    [Fact]
    public async Task The_receiver_refuses_a_push_signed_by_anyone_but_the_backbone_and_an_unsigned_one()
    {
        var called = 0;
        await using var receiver = await ReceiverAsync(Server.Server.Sandbox.BackboneCertificate, (_, _) =>
        {
            Interlocked.Increment(ref called);
            return Task.FromResult(MessageVerdict.Accept);
        });
        using var forgerClient = new DipClient(fixture.OptionsOf(Server.SenderOf(9002), Role.SDS));
        byte[] body = [.. "["u8, .. forgerClient.Build(fixture.ConsumptionFor(9002)).ToUtf8(), .. "]"u8];
        var forger = new DipRequestSigner(Server.CertificateOf(Server.SenderOf(9002))); // a registered participant, not the backbone
        using var http = new HttpClient();

        using var forged = await http.SendAsync(Push(receiver.Url, body, forger.Sign("POST", receiver.Url, body)));
        using var unsigned = await http.SendAsync(Push(receiver.Url, body, null));
        using var genuine = await http.SendAsync(Push(receiver.Url, body, new DipRequestSigner(Server.Server.Sandbox.BackboneCertificate).Sign("POST", receiver.Url, body)));

        Assert.Equal(HttpStatusCode.Unauthorized, forged.StatusCode);
        Assert.Contains("certificate-not-registered", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        Assert.Equal(HttpStatusCode.Created, genuine.StatusCode);
        Assert.Equal(1, called); // only the genuine push reached the handler
    }

    private static HttpRequestMessage Push(Uri url, byte[] body, DipSignatureHeaders? headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in headers?.AsPairs() ?? []) request.Headers.TryAddWithoutValidation(name, value);

        return request;
    }

    private static async Task<Receiver> ReceiverAsync(X509Certificate2 backbone, Func<DipMessage, CancellationToken, Task<MessageVerdict>> handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapDipWebhook("/hook", new DipWebhookOptions { BackboneCertificates = [backbone] }, handler);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Receiver(app, new Uri(new Uri(address), "/hook"));
    }

    private sealed record Receiver(WebApplication App, Uri Url) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }
}
