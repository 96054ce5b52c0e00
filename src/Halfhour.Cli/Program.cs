using System.CommandLine;
using Halfhour.Cli.Bench;
using Halfhour.Cli.Validate;

namespace Halfhour.Cli;

/// <summary>The <c>halfhour</c> program: one command with a subcommand per job.</summary>
public static class Program
{
    /// <summary>Parses the command line and runs the chosen subcommand.</summary>
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand(
            "Halfhour: the event backbone for GB Market-wide Half-Hourly Settlement.\n" +
            "Run a subcommand with --help to learn what it does and which options it takes.");
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(Serve.ServeCommand.Create());
        root.Subcommands.Add(ValidateCommand.Create());
        root.Subcommands.Add(Simulate.SimulateCommand.Create());
        root.Subcommands.Add(Simulate.ConformanceCommand.Create());
        root.Subcommands.Add(Messaging.SendCommand.Create());
        root.Subcommands.Add(Messaging.ReceiveCommand.Create());
        root.Subcommands.Add(Messaging.ReplayCommands.Replay());
        root.Subcommands.Add(Messaging.ReplayCommands.Requeue());
        root.Subcommands.Add(Operator.ParticipantsCommand.Create());
        return await root.Parse(args).InvokeAsync();
    }
}
