using System.CommandLine;
using System.Globalization;
using Halfhour.Cli.Bench;
using Halfhour.Simulator;
using Halfhour.Simulator.Conformance;
using Halfhour.Simulator.Population;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Halfhour.Cli.Simulate;

/// <summary>
/// <c>halfhour simulate</c>: a whole market against a backbone (one it starts, or <c>--url</c>), each participant with
/// its own credentials and a stub receiving by webhook or pull; at the end every stub checks it received exactly what
/// the routing rules say. Prints a table per role, writes <c>--json</c>, exits 1 on any discrepancy.
/// </summary>
public static class SimulateCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var defaults = new PopulationOptions();
        var mpans = new Option<int>("--mpans") { DefaultValueFactory = _ => 10_000, Description = "Metering points." };
        var days = new Option<int>("--days") { DefaultValueFactory = _ => 1, Description = "Consumption (settlement) days, the last one yesterday." };
        var suppliers = new Option<int>("--suppliers") { DefaultValueFactory = _ => defaults.Suppliers, Description = "Suppliers (SUP)." };
        var distributors = new Option<int>("--distributors") { DefaultValueFactory = _ => defaults.Distributors, Description = "Distribution network operators (LDSO), at least 14 (one per GSP group)." };
        var registrations = new Option<int>("--registration-services") { DefaultValueFactory = _ => defaults.RegistrationServices, Description = "Registration services (REGS)." };
        var dataServices = new Option<int>("--data-services") { DefaultValueFactory = _ => defaults.DataServices, Description = "Data services of each kind: this many SDS, ADS and UMSDS each." };
        var meteringServices = new Option<int>("--metering-services") { DefaultValueFactory = _ => defaults.MeteringServices, Description = "Metering services of each kind: this many MSS and MSA each." };
        var unmetered = new Option<int>("--unmetered-operators") { DefaultValueFactory = _ => defaults.UnmeteredSuppliesOperators, Description = "Unmetered supplies operators (UMSO)." };
        var outageSeconds = new Option<double>("--outage-seconds") { DefaultValueFactory = _ => 5, Description = "How long each of the three webhook outages lasts." };
        var url = new Option<string?>("--url") { Description = "Simulate against a running backbone instead of starting one (needs --data: its data directory)." };
        var data = new Option<DirectoryInfo?>("--data") { Description = "The data directory of the backbone given by --url (its sandbox CA and key, backbone certificate, operator key)." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the report as JSON to this file." };
        var command = new Command("simulate",
            "Run a simulated market (the reference model's 401 participants by default, each with its own credentials) against a backbone: registrations, consumption days, " +
            "defaults and rejections, standing-data notices and recipient outages, with stubs answering as their roles do (the appointment flow IF-031 … IF-035 after a " +
            "change of supplier, status messages for rejected consumption); then check every stub received exactly what the routing rules say and every answer owed " +
            "was sent. Exit 1 on any discrepancy.");
        foreach (var option in (Option[])[mpans, days, suppliers, distributors, registrations, dataServices, meteringServices, unmetered, outageSeconds, url, data, json])
        {
            command.Options.Add(option);
        }

        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            if (parse.GetValue(url) is not null && parse.GetValue(data) is null)
            {
                await Console.Error.WriteLineAsync("simulate: --url needs --data, the backbone's data directory (its sandbox CA and key, backbone certificate and operator key).");
                return 2;
            }

            if (parse.GetValue(mpans) < 1 || parse.GetValue(days) is < 1 or > 30 || parse.GetValue(distributors) < 14 || parse.GetValue(suppliers) < 1
                || parse.GetValue(registrations) < 1 || parse.GetValue(dataServices) < 1 || parse.GetValue(meteringServices) < 1 || parse.GetValue(unmetered) < 1)
            {
                await Console.Error.WriteLineAsync("simulate: --mpans must be at least 1, --days 1 to 30, --distributors at least 14 (one per GSP group), " +
                    "and every other count of participants at least 1.");
                return 2;
            }

            var population = new PopulationOptions
            {
                Suppliers = parse.GetValue(suppliers), Distributors = parse.GetValue(distributors), RegistrationServices = parse.GetValue(registrations),
                DataServices = parse.GetValue(dataServices), MeteringServices = parse.GetValue(meteringServices), UnmeteredSuppliesOperators = parse.GetValue(unmetered),
            };
            var options = (Uri url, string data) => new SimulationOptions
            {
                Url = url, DataDirectory = data, Mpans = parse.GetValue(mpans), Days = parse.GetValue(days), Population = population,
                OutageLength = TimeSpan.FromSeconds(parse.GetValue(outageSeconds)),
            };
            ConformanceReport report;
            try
            {
                report = parse.GetValue(url) is { } address
                    ? await RunAsync(options(new Uri(address), parse.GetValue(data)!.FullName), cancellationToken)
                    : await WithOwnBackboneAsync(dataDirectory => RunAsync(options(dataDirectory.Url, dataDirectory.Data), cancellationToken), cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or InvalidOperationException or IOException or TimeoutException)
            {
                // The market could not be run at all (backbone unreachable, refused enrolment, wrong data directory): say which.
                await Console.Error.WriteLineAsync($"simulate: {e.Message}");
                return 2;
            }

            Print(report);
            if (parse.GetValue(json) is { } file)
            {
                await using var stream = file.Create();
                await report.WriteJsonAsync(stream, cancellationToken);
                AnsiConsole.MarkupLine($"[grey]report written to {Markup.Escape(file.FullName)}[/]");
            }

            return report.Conforms ? 0 : 1;
        });
        return command;
    }

    /// <summary>Starts a backbone of its own (as <c>bench dip</c> does), runs <paramref name="run"/> against it, and stops it.</summary>
    private static async Task<ConformanceReport> WithOwnBackboneAsync(Func<(Uri Url, string Data), Task<ConformanceReport>> run, CancellationToken cancellationToken)
    {
        var work = Path.Combine(Path.GetTempPath(), "halfhour-simulate-" + Guid.NewGuid().ToString("N")[..8]);
        var data = Path.Combine(work, "data");
        var port = DipBenchmark.FreePort();
        var url = new Uri($"https://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
        AnsiConsole.MarkupLine($"[grey]simulate: starting a backbone at {url} with data in {Markup.Escape(data)}…[/]");
        // One backbone carries the whole simulated market from one machine: no participant may be throttled.
        using var server = LoadProcess.StartHalfhour(redirect: false, "serve", "--data", data, "--port", port.ToString(CultureInfo.InvariantCulture),
            "--Halfhour:Limits:RequestsPerSecond=1000000", "--Halfhour:Limits:RequestBurst=1000000", "--Logging:LogLevel:Default=Warning");
        try
        {
            await DipBenchmark.WaitReadyAsync(url, data, server, cancellationToken);
            return await run((url, data));
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync(CancellationToken.None);
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temporary folder is not worth failing the run for.
            }
        }
    }

    private static Task<ConformanceReport> RunAsync(SimulationOptions options, CancellationToken cancellationToken) =>
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RateColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(context => new MarketSimulation(options, new ConsoleProgress(context)).RunAsync(cancellationToken));

    private static void Print(ConformanceReport report)
    {
        // Written to a file or a pipe, the table of sixteen columns would be squeezed into 80 characters and unreadable.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 220);
        var published = report.Published.Values.Sum();
        AnsiConsole.MarkupLine($"{report.Participants} participants, {report.Mpans:N0} MPANs, {report.Days} day(s): {published:N0} messages published in {report.PublishSeconds:0.0} s " +
            $"({published / Math.Max(report.PublishSeconds, 0.001):N0}/s); every copy delivered {report.DeliverSeconds:0.0} s after the first publication.");
        var table = new Table().Title("conformance per role");
        foreach (var column in (string[])["role", "stubs", "expected", "received", "missing", "unexpected", "out of order", "duplicates", "replayed", "replay mis-marked", "A0 ≠ rules",
                     "answers owed", "answered", "status expected", "status received", "faults"])
        {
            table.AddColumn(column == "role" ? new TableColumn(column) : new TableColumn(column).RightAligned());
        }

        foreach (var r in report.Roles)
        {
            string Bad(long value) => value == 0 ? "0" : $"[red]{value:N0}[/]";
            string Short(long value, long of) => value == of ? value.ToString("N0", CultureInfo.InvariantCulture) : $"[red]{value:N0}[/]";
            table.AddRow(r.Conforms ? r.Role : $"[red]{r.Role}[/]", r.Stubs.ToString("N0", CultureInfo.InvariantCulture), r.Expected.ToString("N0", CultureInfo.InvariantCulture),
                r.Received.ToString("N0", CultureInfo.InvariantCulture), Bad(r.Missing), Bad(r.Unexpected), Bad(r.OutOfOrder), r.Duplicates.ToString("N0", CultureInfo.InvariantCulture),
                r.Replayed.ToString("N0", CultureInfo.InvariantCulture), Bad(r.ReplayMisMarked), Bad(r.RecipientsDiffer), r.AnswersDue.ToString("N0", CultureInfo.InvariantCulture),
                Short(r.Answered, r.AnswersDue), r.StatusesExpected.ToString("N0", CultureInfo.InvariantCulture), Short(r.StatusesReceived, r.StatusesExpected), Bad(r.Faults));
        }

        AnsiConsole.Write(table);
        if (report.Outages.Count > 0)
        {
            var outages = new Table().Title("recipient outages").AddColumn("stub").AddColumn("role").AddColumn(new TableColumn("down s").RightAligned())
                .AddColumn(new TableColumn("held back").RightAligned()).AddColumn(new TableColumn("arrived after").RightAligned());
            foreach (var o in report.Outages)
            {
                outages.AddRow(o.DipId, o.Role, o.DownSeconds.ToString("0.0", CultureInfo.InvariantCulture), o.HeldBack.ToString("N0", CultureInfo.InvariantCulture),
                    o.ArrivedAfter == o.HeldBack ? o.ArrivedAfter.ToString("N0", CultureInfo.InvariantCulture) : $"[red]{o.ArrivedAfter:N0}[/]");
            }

            AnsiConsole.Write(outages);
        }

        foreach (var example in report.Examples)
        {
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(example)}[/]");
        }

        AnsiConsole.MarkupLine(report.Conforms
            ? "[green]conforms: every stub received exactly what the routing rules say, in order per MPAN, replays marked, and sent every answer it owed.[/]"
            : $"[red]discrepancies: {report.Refused.Count} refused messages; see the table.[/]");
    }

    /// <summary>Shows the simulation's tasks as Spectre progress bars.</summary>
    private sealed class ConsoleProgress(ProgressContext context) : ISimulationProgress
    {
        private readonly Dictionary<string, ProgressTask> _tasks = [];

        public void Start(string task, long total)
        {
            lock (_tasks)
            {
                foreach (var earlier in _tasks.Values) earlier.Value = earlier.MaxValue;
                _tasks[task] = context.AddTask(task, maxValue: Math.Max(1, total));
            }
        }

        public void Report(string task, long done)
        {
            lock (_tasks)
            {
                if (_tasks.TryGetValue(task, out var progress)) progress.Value = done;
            }
        }
    }

    /// <summary>Units per second of a task.</summary>
    private sealed class RateColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Markup(task.Speed is { } speed ? $"[grey]{speed.ToString("N0", CultureInfo.InvariantCulture)}/s[/]" : "");
    }
}
