using System.CommandLine;
using System.Globalization;
using Halfhour.Engines.Nats.Local;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Halfhour.Cli.Bench;

/// <summary>
/// <c>halfhour bench e2e</c>: Halfhour against what an operator would otherwise pick, NATS JetStream, in one run on
/// this machine with the same IF-021 message bytes. The Halfhour side is <c>bench dip</c>'s (a server process, a
/// load-generator process sending signed arrays of 100 over mutual TLS, four recipient roles pulling every copy);
/// the NATS side is a <c>nats-server</c> process and a client process (<see cref="NatsLoadGenerator"/>). With
/// <c>--engine nats</c>, Halfhour also runs on a single-node and on a 3-node JetStream, so the cost of replication
/// shows beside the embedded log.
/// </summary>
public static class E2eBenchmark
{
    // Enough for a rate steady over ten seconds and more; few enough that the default run (Halfhour, then NATS)
    // ends within a few minutes on a busy two-core machine.
    private const long DefaultMessages = 30_000;

    // Tiered compilation of the hot paths takes the first tens of seconds of each process (see bench dip's warm-up).
    private const long DefaultWarmup = 20_000;

    // The figures' label of each run, and what it compares with.
    private const string Halfhour = "halfhour";
    private const string Nats = "nats";
    private const string HalfhourOnNats = "halfhour_js1";
    private const string HalfhourOnCluster = "halfhour_js3";
    private const string NatsCluster3 = "nats_r3";

    /// <summary>Builds the <c>e2e</c> suite, with its hidden <c>nats</c> client subcommand.</summary>
    public static Command Create()
    {
        var messages = new Option<long>("--messages") { DefaultValueFactory = _ => DefaultMessages, Description = "IF-021 messages measured on each side." };
        var warmup = new Option<long>("--warmup") { DefaultValueFactory = _ => DefaultWarmup, Description = "Messages published on each side before measuring." };
        var connections = new Option<int>("--connections") { DefaultValueFactory = _ => 8, Description = "Concurrent publishing requests on the Halfhour side." };
        var engine = new Option<string>("--engine")
        {
            DefaultValueFactory = _ => "embedded",
            Description = "embedded: Halfhour on its embedded log against NATS. nats: also Halfhour on a single-node and a 3-node (R3) JetStream, against NATS R1 and R3.",
        };
        engine.AcceptOnlyFromAmong("embedded", "nats");
        var command = new Command("e2e",
            "Halfhour against NATS JetStream, end to end, same IF-021 bytes: published (acknowledged) and delivered to every recipient, CPU of each side.");
        foreach (var option in (Option[])[BenchCommand.JsonOption, messages, warmup, connections, engine])
        {
            command.Options.Add(option);
        }

        command.Subcommands.Add(NatsLoadGenerator.Create());
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            if (!NatsServerProcess.IsInstalled)
            {
                await Console.Error.WriteLineAsync("bench e2e: " + NatsServerProcess.MissingMessage);
                return 1;
            }

            var onNats = parse.GetValue(engine) == "nats";
            if (onNats && !await ServeTakesEngineAsync(cancellationToken))
            {
                await Console.Error.WriteLineAsync(
                    "bench e2e --engine nats: this build's `halfhour serve` has no --engine option (serve --engine nats --nats-url URL[,URL…]), so Halfhour cannot run on JetStream; " +
                    "run without --engine nats for Halfhour's embedded log against NATS.");
                return 1;
            }

            var report = new BenchReport("e2e");
            try
            {
                var complete = await RunAsync(report, (parse.GetValue(warmup), parse.GetValue(messages)), parse.GetValue(connections), onNats, cancellationToken);
                await report.PublishAsync(parse.GetValue(BenchCommand.JsonOption), cancellationToken);
                return complete ? 0 : 2;
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or NatsException)
            {
                await Console.Error.WriteLineAsync("bench e2e: " + e.Message);
                return 1;
            }
        });
        return command;
    }

    /// <summary>Runs every side in turn (one at a time, so none takes CPU from another) and reports; false when one was incomplete.</summary>
    private static async Task<bool> RunAsync(BenchReport report, (long Warmup, long Messages) plan, int connections, bool onNats, CancellationToken cancellationToken)
    {
        var runs = new List<Side>();
        Console.Out.WriteLine($"bench e2e: Halfhour on its embedded log: {plan.Warmup:N0} messages to warm up, then {plan.Messages:N0} measured…");
        var embedded = await DipBenchmark.RunAsync(null, null, plan, connections, [], [], cancellationToken);
        runs.Add(new Side(Halfhour, embedded.Result, embedded.Server, Unmeasured));
        // NATS delivers each message to as many consumers as Halfhour delivered it to recipients: the same work.
        var recipients = (int)Math.Max(1, Math.Round((double)embedded.Result.Expected / (plan.Warmup + embedded.Result.Accepted)));
        await using (var node = await NatsServerProcess.StartSingleAsync("bench-e2e"))
        {
            runs.Add(await RunNatsAsync(Nats, [node], (1, recipients), plan, cancellationToken));
        }

        if (onNats)
        {
            await using (var node = await NatsServerProcess.StartSingleAsync("bench-e2e-halfhour"))
            {
                runs.Add(await RunHalfhourOnNatsAsync(HalfhourOnNats, [node], 1, plan, connections, report, cancellationToken));
            }

            await using var cluster = await Engines.Nats.Local.NatsCluster.StartAsync("halfhour-bench");
            runs.Add(await RunNatsAsync(NatsCluster3, cluster.Nodes, (3, recipients), plan, cancellationToken));
            runs.Add(await RunHalfhourOnNatsAsync(HalfhourOnCluster, cluster.Nodes, 3, plan, connections, report, cancellationToken));
        }

        return Report(report, runs, connections, recipients);
    }

    private static readonly CpuWindow Unmeasured = new(double.NaN, double.NaN);

    /// <summary>One measured run: the load generator's result, the CPU of the Halfhour server and of the nats-server processes.</summary>
    private sealed record Side(string Label, DipLoadResult Result, CpuWindow Server, CpuWindow Nats);

    private static async Task<Side> RunNatsAsync(string label, IReadOnlyList<NatsServerProcess> nodes, (int Replicas, int Recipients) layout,
        (long Warmup, long Messages) plan, CancellationToken cancellationToken)
    {
        var replicas = layout.Replicas;
        Console.Out.WriteLine($"bench e2e: NATS JetStream R{replicas} on {nodes.Count} node(s): {plan.Warmup:N0} messages to warm up, then {plan.Messages:N0} measured…");
        var resultFile = Path.Combine(Path.GetTempPath(), "halfhour-bench-e2e-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        try
        {
            var natsCpu = NodesMeter(nodes);
            var invariant = CultureInfo.InvariantCulture;
            var exitCode = await LoadProcess.RunAsync([natsCpu], ["bench", "e2e", "nats", "--urls", string.Join(',', nodes.Select(n => n.Url)),
                "--replicas", replicas.ToString(invariant), "--recipients", layout.Recipients.ToString(invariant), "--warmup", plan.Warmup.ToString(invariant), "--messages", plan.Messages.ToString(invariant),
                "--result", resultFile], cancellationToken);
            if (!File.Exists(resultFile))
            {
                throw new InvalidOperationException($"the NATS client ended ({exitCode}) without a result.");
            }

            var result = System.Text.Json.JsonSerializer.Deserialize<DipLoadResult>(await File.ReadAllBytesAsync(resultFile, cancellationToken))!;
            return new Side(label, result, Unmeasured, natsCpu.Window);
        }
        finally
        {
            File.Delete(resultFile);
        }
    }

    private static async Task<Side> RunHalfhourOnNatsAsync(string label, IReadOnlyList<NatsServerProcess> nodes, int replicas, (long Warmup, long Messages) plan,
        int connections, BenchReport report, CancellationToken cancellationToken)
    {
        Console.Out.WriteLine($"bench e2e: Halfhour on JetStream R{replicas}, {nodes.Count} node(s): {plan.Warmup:N0} messages to warm up, then {plan.Messages:N0} measured…");
        var urls = string.Join(',', nodes.Select(n => n.Url));
        var natsCpu = NodesMeter(nodes);
        var run = await DipBenchmark.RunAsync(null, null, plan, connections,
            ["--engine", "nats", "--nats-url", urls, "--Halfhour:Backbone:Nats:Replicas=" + replicas.ToString(CultureInfo.InvariantCulture)],
            [natsCpu], cancellationToken);

        // serve must really have stored in JetStream: a server that ignored the engine would measure the embedded log.
        await using var nats = new NatsConnection(NatsOpts.Default with { Url = urls, Name = "halfhour-bench-e2e-check" });
        var streams = new List<int>();
        await foreach (var stream in new NatsJSContext(nats).ListStreamsAsync(cancellationToken: cancellationToken))
        {
            if (stream.Info.Config.Name != NatsLoadGenerator.Stream)
            {
                streams.Add(stream.Info.Config.NumReplicas);
            }
        }

        if (streams.Count == 0)
        {
            throw new InvalidOperationException($"halfhour serve --engine nats stored nothing in JetStream at {urls}: the server ignored the engine option.");
        }

        report.Add(label + "_stream_replicas", streams.Min(), "copies", $"fewest replicas of Halfhour's {streams.Count} streams (R{replicas} asked)");
        return new Side(label, run.Result, run.Server, natsCpu.Window);
    }

    private static CpuMeter NodesMeter(IReadOnlyList<NatsServerProcess> nodes) => new(() => nodes.Sum(n => n.CpuSeconds));

    /// <summary>Whether this build's <c>serve</c> has the <c>--engine</c> option (its help lists it).</summary>
    private static async Task<bool> ServeTakesEngineAsync(CancellationToken cancellationToken)
    {
        using var help = LoadProcess.StartHalfhour(redirect: true, "serve", "--help");
        var text = await help.StandardOutput.ReadToEndAsync(cancellationToken);
        await help.WaitForExitAsync(cancellationToken);
        return text.Contains("--engine", StringComparison.Ordinal);
    }

    /// <summary>Adds every run's figures and the comparisons; false when a run lost copies or saw an error.</summary>
    private static bool Report(BenchReport report, List<Side> runs, int connections, int recipients)
    {
        var complete = true;
        foreach (var run in runs)
        {
            complete &= AddSide(report, run);
        }

        var byLabel = runs.ToDictionary(r => r.Label);
        Compare(report, byLabel[Halfhour], byLabel[Nats]);
        if (byLabel.TryGetValue(HalfhourOnNats, out var onNats))
        {
            Compare(report, onNats, byLabel[Nats]);
            Compare(report, byLabel[HalfhourOnCluster], byLabel[NatsCluster3]);
        }

        report.Add("copies_per_msg", recipients, "copies", "recipients of each message, on both sides");
        report.Note("End to end (e2e_msgs_s): measured messages / seconds from the start of the measured phase until the last answer to the sender and the last copy acknowledged by its recipient; " +
            $"a message counts once it was acknowledged to its sender and every one of its {recipients} recipients (its supplier and distributor, the LSS and MDS participants) " +
            $"has taken and acknowledged it. delivered_msgs_s counts copies ({recipients} per message). day_minutes: 30 million messages at e2e_msgs_s.");
        report.Note("NATS 2.9 acknowledges a publish before it is fsync'd (sync_interval, 2 minutes by default); Halfhour fsyncs before it acknowledges.");
        report.Note($"Halfhour: {connections} connections sending signed arrays of 100 over HTTPS mutual TLS, each message validated, routed, stored encrypted and fsync'd; " +
            "recipients pull and acknowledge over HTTPS. NATS: the same message bytes one per publish, 256 acknowledged publishes in flight, file storage, " +
            $"{recipients} durable pull consumers with explicit acks, plain TCP on loopback. Each side: a server process and a client process, CPU measured apart.");
        report.Note($"{Environment.ProcessorCount} cores shared by every process of a side (and anything else running on the machine).");
        return complete;
    }

    private static bool AddSide(BenchReport report, Side side)
    {
        var (label, result, server, nats) = side;
        var publish = result.Accepted / result.PublishSeconds;
        // Fully published (answered to the sender) and delivered: a recipient may take a message before its sender has the answer.
        var endToEnd = result.Accepted / Math.Max(result.PublishSeconds, result.DeliverSeconds);
        report.Add(label + "_publish_msgs_s", publish, "msg/s", "acknowledged to the sender");
        report.Add(label + "_delivered_msgs_s", result.DeliveredMeasured / result.DeliverSeconds, "copies/s", "taken and acknowledged by the recipients");
        report.Add(label + "_e2e_msgs_s", endToEnd, "msg/s", "published and delivered to every recipient");
        report.Add(label + "_publish_p99_ms", result.P99Ms, "ms", label.StartsWith(Halfhour, StringComparison.Ordinal) ? "per request of 100 messages" : "per publish");
        if (double.IsFinite(server.WithDelivery))
        {
            report.Add(label + "_server_cpu_s", server.WithDelivery, "s", "halfhour serve process, measured phase to the last copy");
        }

        if (double.IsFinite(nats.WithDelivery))
        {
            report.Add(label + (label.StartsWith(Halfhour, StringComparison.Ordinal) ? "_jetstream_cpu_s" : "_server_cpu_s"), nats.WithDelivery, "s",
                "nats-server process(es), measured phase to the last copy");
        }

        report.Add(label + "_client_cpu_s", result.CpuSeconds, "s", "load generator process: publishing and consuming");
        var total = new[] { server.WithDelivery, nats.WithDelivery, result.CpuSeconds }.Where(double.IsFinite).Sum();
        report.Add(label + "_cpu_us_per_msg", total / Math.Max(1, result.Accepted) * 1e6, "µs", "every process of the side, per message delivered to all");
        report.Add(label + "_messages", result.Accepted, "msg", $"measured; {result.Delivered:N0} of {result.Expected:N0} copies delivered (warm-up included)");
        if (result.Retries > 0)
        {
            report.Note($"{label}: {result.Retries:N0} batches were answered MSG1500 (storage unavailable) and sent again unchanged, as the contract tells a sender to.");
        }

        var complete = result.FirstError is null && result.Delivered == result.Expected && result.Accepted == result.Sent;
        if (!complete)
        {
            report.Note($"{label}: INCOMPLETE: {result.Accepted:N0} of {result.Sent:N0} accepted, {result.Delivered:N0} of {result.Expected:N0} copies delivered; first error: {result.FirstError ?? "none"}");
        }

        return complete;
    }

    /// <summary>The ratios of a Halfhour run to a NATS run (above 1: Halfhour faster), and its market day.</summary>
    private static void Compare(BenchReport report, Side halfhour, Side nats)
    {
        var prefix = halfhour.Label == Halfhour ? "" : halfhour.Label + "_";
        report.Add($"{prefix}publish_vs_{nats.Label}", report[halfhour.Label + "_publish_msgs_s"] / report[nats.Label + "_publish_msgs_s"], "ratio");
        report.Add($"{prefix}delivered_vs_{nats.Label}", report[halfhour.Label + "_delivered_msgs_s"] / report[nats.Label + "_delivered_msgs_s"], "ratio");
        report.Add($"{prefix}e2e_vs_{nats.Label}", report[halfhour.Label + "_e2e_msgs_s"] / report[nats.Label + "_e2e_msgs_s"], "ratio");
        report.Add(prefix + "day_minutes", DipBenchmark.MarketDayMessages / report[halfhour.Label + "_e2e_msgs_s"] / 60, "min",
            $"30 million messages at {halfhour.Label}_e2e_msgs_s");
    }
}
