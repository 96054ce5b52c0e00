using System.Net;
using System.Text.Json.Nodes;
using Halfhour.Client.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Halfhour.Cli.Tests;

/// <summary><c>halfhour simulate</c> and <c>halfhour conformance</c> run as processes against real servers and webhooks on loopback, at a small size.</summary>
public sealed class SimulateCommandTests(CliServerFixture fixture) : IClassFixture<CliServerFixture>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("halfhour-cli-simulate-").FullName;

    [Fact]
    public async Task Simulate_runs_a_small_market_against_a_backbone_of_its_own_and_reports_it_conforms_in_json()
    {
        var json = Path.Combine(_directory, "report.json");

        // 200 metering points: a change of supplier (the appointment flow the registration services answer) falls on one
        // MPAN in 20 of a population drawn afresh each run; with 60, about one run in twenty had none and failed below.
        var run = await CliProcess.RunAsync(["simulate", "--mpans", "200", "--suppliers", "3", "--registration-services", "2", "--data-services", "2", "--metering-services", "2",
            "--unmetered-operators", "1", "--outage-seconds", "1", "--json", json], timeout: TimeSpan.FromMinutes(4));

        Assert.True(run.Code == 0, run.Output + run.Errors);
        Assert.Contains("conforms: every stub received exactly what the routing rules say", run.Output, StringComparison.Ordinal);
        var report = JsonNode.Parse(await File.ReadAllTextAsync(json))!;
        Assert.True(report["conforms"]!.GetValue<bool>());
        Assert.Equal(14 + 3 + 3 + 2 + 6 + 4 + 1 + 8, report["report"]!["participants"]!.GetValue<int>()); // 14 GSP distributors and 3 independent ones
        var roles = report["report"]!["roles"]!.AsArray();
        Assert.Contains(roles, r => r!["role"]!.GetValue<string>() == "REGS" && r["answersDue"]!.GetValue<long>() > 0 && r["answered"]!.GetValue<long>() == r["answersDue"]!.GetValue<long>());
        Assert.True(report["report"]!["published"]!["IF-021"]!.GetValue<long>() > 0);
    }

    [Fact]
    public async Task Simulate_against_an_unreachable_backbone_says_why_and_exits_2()
    {
        var run = await CliProcess.RunAsync(["simulate", "--url", "https://127.0.0.1:1/", "--data", fixture.Server.DataDirectory, "--mpans", "10"]);

        Assert.Equal(2, run.Code);
        Assert.StartsWith("simulate: ", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Conformance_passes_a_webhook_built_with_the_SDK_and_fails_one_that_takes_anything()
    {
        var backbone = fixture.Server.Server.Sandbox.BackboneCertificate;
        await using var sdk = await EndpointAsync(app => app.MapDipWebhook("/hook", new DipWebhookOptions { BackboneCertificates = [backbone] }, (message, _) =>
            Task.FromResult(message.InterfaceId == "IF-021" ? MessageVerdict.Accept : MessageVerdict.Refuse("MSG1004 - Unknown Interface", "This endpoint takes IF-021 only."))));
        await using var careless = await EndpointAsync(app => app.MapPost("/hook", () => Results.StatusCode(StatusCodes.Status201Created)));
        var json = Path.Combine(_directory, "conformance.json");

        var good = await CliProcess.RunAsync(["conformance", "--target", sdk.Url.ToString(), "--data", fixture.Server.DataDirectory, "--json", json]);
        var bad = await CliProcess.RunAsync(["conformance", "--target", careless.Url.ToString(), "--data", fixture.Server.DataDirectory]);

        Assert.True(good.Code == 0, good.Output + good.Errors);
        Assert.True(JsonNode.Parse(await File.ReadAllTextAsync(json))!["conforms"]!.GetValue<bool>());
        Assert.True(bad.Code == 1, bad.Output + bad.Errors);
        Assert.True(bad.Output.Contains("FAIL", StringComparison.Ordinal), "no failed check in the output:\n" + bad.Output + "\nerrors:\n" + bad.Errors);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task<Endpoint> EndpointAsync(Action<WebApplication> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return new Endpoint(app, new Uri(new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()), "/hook"));
    }

    private sealed record Endpoint(WebApplication App, Uri Url) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }
}
