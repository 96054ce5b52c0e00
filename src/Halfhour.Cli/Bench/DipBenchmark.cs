using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Halfhour.Cli.Bench;

/// <summary>
/// <c>halfhour bench dip</c>: the whole participant path under load. A backbone runs as its own process (or is given by
/// <c>--url</c>); the load generator (<see cref="DipLoadGenerator"/>) runs as another, so the two processes' CPU is
/// measured apart. Figures: messages accepted per second with full validation and fsync, request latency, copies
/// delivered per second, the minutes a market day of 30 million messages takes at that rate, and CPU per message.
/// </summary>
public static class DipBenchmark
{
    // The market's daily consumption volume (DESIGN.md): the day_minutes figure is this at the measured rate.
    internal const double MarketDayMessages = 30_000_000;

    // Enough messages for a rate steady over tens of seconds, few enough that the suite ends within a few minutes
    // on a busy two-core machine.
    private const long DefaultMessages = 60_000;

    // Messages published before measuring at least; the load generator goes on warming up while either process still
    // spends a noticeable share of its CPU compiling (WarmupGauge), so the measured phase is the steady state.
    private const long DefaultWarmup = 40_000;

    // How long a started backbone may take to create its sandbox (CA, server and participant keys) and listen.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    /// <summary>Builds the <c>dip</c> suite, with its hidden <c>load</c> subcommand.</summary>
    public static Command Create()
    {
        var messages = new Option<long>("--messages") { DefaultValueFactory = _ => DefaultMessages, Description = "IF-021 messages to publish." };
        var url = new Option<string?>("--url") { Description = "Measure a running backbone instead of starting one (needs --data: its data directory)." };
        var data = new Option<DirectoryInfo?>("--data") { Description = "The data directory of the backbone given by --url (its CA, operator key and sandbox)." };
        var connections = new Option<int>("--connections") { DefaultValueFactory = _ => 8, Description = "Concurrent publishing requests." };
        var warmup = new Option<long>("--warmup") { DefaultValueFactory = _ => DefaultWarmup, Description = "Messages published before measuring." };
        var command = new Command("dip", "The DIP path end to end: signed IF-021 arrays of 100 over mutual TLS, published and pulled by every recipient.");
        foreach (var option in (Option[])[BenchCommand.JsonOption, messages, warmup, url, data, connections])
        {
            command.Options.Add(option);
        }

        command.Subcommands.Add(DipLoadGenerator.Create());
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            if (parse.GetValue(url) is not null && parse.GetValue(data) is null)
            {
                await Console.Error.WriteLineAsync("bench dip: --url needs --data, the backbone's data directory (its CA, operator key and sandbox participants).");
                return 1;
            }

            var run = await RunAsync(parse.GetValue(url) is { } address ? new Uri(address) : null, parse.GetValue(data)?.FullName, (parse.GetValue(warmup), parse.GetValue(messages)), parse.GetValue(connections), [], [], cancellationToken);
            var report = Report(run.Result, run.ServerCpu, parse.GetValue(connections));
            run.Runtime.AddTo(report, run.Result.Accepted);
            await report.PublishAsync(parse.GetValue(BenchCommand.JsonOption), cancellationToken);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// One run: starts a backbone (<c>serve</c> with <paramref name="serveArguments"/> added) unless <paramref name="url"/> is
    /// given, enrols the roster, and runs the load generator; <paramref name="alsoMeasured"/> are marked with the server's CPU.
    /// </summary>
    internal static async Task<DipRun> RunAsync(Uri? url, string? dataDirectory, (long Warmup, long Messages) plan, int connections,
        IReadOnlyList<string> serveArguments, IReadOnlyList<CpuMeter> alsoMeasured, CancellationToken cancellationToken)
    {
        var work = Path.Combine(Path.GetTempPath(), "halfhour-bench-dip-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(work);
        Process? server = null;
        try
        {
            if (url is null)
            {
                dataDirectory = Path.Combine(work, "data");
                var port = FreePort();
                url = new Uri($"https://127.0.0.1:{port}/");
                // The participant rate limit protects a shared backbone from one participant; this one benchmark
                // sender must not be throttled by it.
                server = LoadProcess.StartHalfhour(redirect: false, ["serve", "--data", dataDirectory, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "--Halfhour:Limits:RequestsPerSecond=1000000", "--Halfhour:Limits:RequestBurst=1000000", "--Logging:LogLevel:Default=Warning", .. serveArguments]);
                await WaitReadyAsync(url, dataDirectory!, server, cancellationToken);
            }

            Console.Out.WriteLine("bench dip: enrolling the roster's participants…");
            var roster = await DipMarket.EnrolAsync(url, dataDirectory!, Path.Combine(work, "roster"), cancellationToken);
            var rosterFile = Path.Combine(work, "roster.json");
            DipMarket.Write(rosterFile, roster);
            var resultFile = Path.Combine(work, "result.json");
            // Sender references must be new to a backbone that has seen earlier runs (de-duplication remembers two days).
            var first = DateTimeOffset.UtcNow.ToUnixTimeSeconds() % 1_000_000 * 10_000_000;

            Console.Out.WriteLine($"bench dip: publishing {plan.Warmup:N0} messages to warm up, then {plan.Messages:N0} measured, over {connections} connections to {url}…");
            var invariant = System.Globalization.CultureInfo.InvariantCulture;
            // The server's CPU is sampled when the load generator says the measured phase starts and ends.
            var serverCpu = CpuMeter.Of(server);
            using var operatorApi = await DipMarket.OperatorAsync(url, dataDirectory!, cancellationToken);
            var runtime = new RuntimeMeter(operatorApi);
            var exitCode = await LoadProcess.RunAsync([serverCpu, runtime, .. alsoMeasured], ["bench", "dip", "load", "--url", url.ToString(), "--data", dataDirectory!, "--roster", rosterFile,
                "--messages", plan.Messages.ToString(invariant), "--warmup", plan.Warmup.ToString(invariant), "--first", first.ToString(invariant),
                "--connections", connections.ToString(invariant), "--result", resultFile], cancellationToken);
            if (!File.Exists(resultFile))
            {
                throw new InvalidOperationException($"the load generator ended ({exitCode}) without a result.");
            }

            return new DipRun(JsonSerializer.Deserialize<DipLoadResult>(await File.ReadAllBytesAsync(resultFile, cancellationToken))!, serverCpu.Window, runtime);
        }
        finally
        {
            if (server is not null)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync(CancellationToken.None);
                server.Dispose();
            }

            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temporary folder is not worth failing the benchmark for.
            }
        }
    }

    private static BenchReport Report(DipLoadResult result, CpuWindow serverCpu, int connections)
    {
        var report = new BenchReport("dip");
        var rate = result.Accepted / result.PublishSeconds;
        report.Add("publish_msgs_s", rate, "msg/s", "accepted (MSG0000): validated, routed, fsync'd, encrypted at rest");
        report.Add("publish_p50_ms", result.P50Ms, "ms", "per request of 100 messages");
        report.Add("publish_p99_ms", result.P99Ms, "ms", "per request of 100 messages");
        report.Add("delivered_msgs_s", result.DeliveredMeasured / result.DeliverSeconds, "msg/s", "copies pulled and acknowledged by all recipients");
        if (result.PullsMeasured > 0)
        {
            report.Add("copies_per_pull", (double)result.DeliveredMeasured / result.PullsMeasured, "msg", "measured copies per pull that returned any (one acknowledgement each)");
        }

        report.Add("day_minutes", MarketDayMessages / rate / 60, "min", "30 million messages at publish_msgs_s");
        report.Add("messages_accepted", result.Accepted, "msg", $"measured, after {result.WarmupMessages:N0} to warm up (until compiling settled)");
        report.Add("copies_delivered", result.Delivered, "msg", $"warm-up included; {result.Expected:N0} expected");
        if (double.IsFinite(serverCpu.PublishOnly))
        {
            report.Add("server_cpu_s", serverCpu.PublishOnly, "s", "server process while the measured messages were published");
            report.Add("server_cpu_us_per_msg", serverCpu.PublishOnly / Math.Max(1, result.Accepted) * 1e6, "µs", "publishing, with the delivery running beside it");
            report.Add("server_cpu_with_delivery_s", serverCpu.WithDelivery, "s", "server process until every copy was pulled");
            report.Add("server_cpu_total_us_per_msg", serverCpu.WithDelivery / Math.Max(1, result.Accepted) * 1e6, "µs", "publishing and delivering every copy");
        }

        report.Add("load_cpu_s", result.CpuSeconds, "s", "load generator process: building, signing, TLS, pulling");
        report.Add("load_cpu_us_per_msg", result.CpuSeconds / Math.Max(1, result.Accepted) * 1e6, "µs", "sending and pulling every copy");
        report.Note($"{connections} publishing connections; arrays of 100 signed IF-021 messages; {Environment.ProcessorCount} cores shared by server and load generator.");
        if (result.Retries > 0)
        {
            report.Note($"{result.Retries:N0} batches were answered MSG1500 (storage unavailable) or lost with their connection, and sent again unchanged, as the contract tells a sender to.");
        }

        if (result.FirstError is not null)
        {
            report.Note("first error: " + result.FirstError);
        }

        return report;
    }

    /// <summary>Waits until a started backbone has created its sandbox and answers <c>/readyz</c>.</summary>
    internal static async Task WaitReadyAsync(Uri url, string dataDirectory, Process server, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartTimeout)
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"the backbone exited ({server.ExitCode}) before it was ready.");
            }

            if (File.Exists(Path.Combine(dataDirectory, "sandbox", "ca.pem")))
            {
                using var probe = new Client.Transport.OperatorClient(url, DipMarket.Trust(dataDirectory));
                if (await probe.IsReadyAsync(cancellationToken))
                {
                    return;
                }
            }

            await Task.Delay(250, cancellationToken);
        }

        throw new TimeoutException($"the backbone was not ready at {url}readyz within {StartTimeout.TotalSeconds:N0} s.");
    }

    /// <summary>A TCP port free on the loopback interface now.</summary>
    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>What one run of <see cref="DipBenchmark"/> measured: the load generator's result and the server process's CPU.</summary>
/// <param name="Result">The load generator's result.</param>
/// <param name="Server">The CPU of the <c>halfhour serve</c> process in the measured phase (NaN for a backbone given by URL).</param>
/// <param name="Runtime">The server's runtime figures (CPU, allocations, collections) read through its operator API at each phase.</param>
internal sealed record DipRun(DipLoadResult Result, CpuWindow Server, RuntimeMeter Runtime)
{
    /// <summary>The server's CPU: measured on its process when this run started it, else as the backbone reported it.</summary>
    public CpuWindow ServerCpu => double.IsFinite(Server.PublishOnly) ? Server : Runtime.CpuWindow;
}
