using System.Text.Json;

namespace Halfhour.Cli.Tests;

/// <summary>
/// <c>halfhour bench e2e</c> as an operator runs it, at a tiny size: a Halfhour server and load generator, a real
/// nats-server and its client, and a JSON report with every figure the comparison needs. No speed is asserted.
/// </summary>
public sealed class E2eBenchmarkTests : IDisposable
{
    private const int Messages = 300;

    private readonly string _directory = Directory.CreateTempSubdirectory("halfhour-bench-e2e-").FullName;

    [Fact]
    public async Task A_tiny_run_reports_every_figure_of_both_sides_and_their_ratios()
    {
        var json = Path.Combine(_directory, "e2e.json");
        var (code, output, errors) = await CliProcess.RunAsync(["bench", "e2e", "--messages", Messages.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--warmup", "100", "--json", json], timeout: TimeSpan.FromMinutes(5));
        Assert.True(code == 0, output + errors);
        Assert.Contains("acknowledges a publish before it is fsync'd", output, StringComparison.Ordinal);

        using var report = JsonDocument.Parse(File.ReadAllBytes(json));
        Assert.Equal("e2e", report.RootElement.GetProperty("suite").GetString());
        var figures = report.RootElement.GetProperty("figures");
        double Figure(string name) => figures.TryGetProperty(name, out var figure) ? figure.GetProperty("value").GetDouble() : throw new Xunit.Sdk.XunitException($"no figure {name} in {figures}");

        foreach (var side in new[] { "halfhour", "nats" })
        {
            foreach (var figure in new[] { "publish_msgs_s", "delivered_msgs_s", "e2e_msgs_s", "server_cpu_s", "client_cpu_s", "cpu_us_per_msg" })
            {
                Assert.True(Figure($"{side}_{figure}") > 0, $"{side}_{figure} = {Figure($"{side}_{figure}")}");
            }

            Assert.Equal(Messages, Figure(side + "_messages"));
            // A message is delivered end to end no sooner than it is published, and to every recipient.
            Assert.True(Figure(side + "_e2e_msgs_s") <= Figure(side + "_publish_msgs_s") * 1.000001, side);
        }

        Assert.True(Figure("copies_per_msg") >= 4, "each IF-021 message goes to its supplier, distributor, LSS and MDS at least");
        Assert.Equal(Figure("halfhour_publish_msgs_s") / Figure("nats_publish_msgs_s"), Figure("publish_vs_nats"), 9);
        Assert.Equal(Figure("halfhour_delivered_msgs_s") / Figure("nats_delivered_msgs_s"), Figure("delivered_vs_nats"), 9);
        Assert.Equal(30_000_000 / Figure("halfhour_e2e_msgs_s") / 60, Figure("day_minutes"), 9);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
