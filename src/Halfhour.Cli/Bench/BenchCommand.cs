using System.CommandLine;

namespace Halfhour.Cli.Bench;

/// <summary><c>halfhour bench SUITE</c>: the programs that produce the figures the issues ask for.</summary>
public static class BenchCommand
{
    /// <summary>The option every suite takes: where to write the JSON form of its figures.</summary>
    public static readonly Option<FileInfo?> JsonOption = new("--json")
    {
        Description = "Also write the figures as JSON ({\"suite\":…,\"figures\":{NAME:{\"value\":…,\"unit\":…}}}) to this file.",
    };

    /// <summary>Builds the <c>bench</c> command with one subcommand per suite.</summary>
    public static Command Create()
    {
        var bench = new Command("bench", "Measure Halfhour on this machine; each suite prints a table and can write JSON.");
        // Suites register here, one line each.
        bench.Subcommands.Add(LogBenchmark.Create());
        bench.Subcommands.Add(ValidateBenchmark.Create());
        bench.Subcommands.Add(DipBenchmark.Create());
        bench.Subcommands.Add(E2eBenchmark.Create());
        return bench;
    }
}
