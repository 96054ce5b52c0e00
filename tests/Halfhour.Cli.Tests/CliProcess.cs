using System.Diagnostics;

namespace Halfhour.Cli.Tests;

/// <summary>The built <c>halfhour</c> program, run as an operator runs it: its exit code and everything it wrote.</summary>
internal static class CliProcess
{
    /// <summary>Runs <c>halfhour ARGUMENTS</c> and waits for it at most <paramref name="timeout"/>.</summary>
    public static async Task<(int Code, string Output)> RunAsync(TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Cli());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output + await errors);
    }

    /// <summary>The CLI the solution build put beside its project (the test script builds the solution first).</summary>
    private static string Cli()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var dll = Path.Combine(directory.FullName, "src", "Halfhour.Cli", "bin", "Release", "net10.0", "halfhour.dll");
            if (File.Exists(Path.Combine(directory.FullName, "Halfhour.slnx")))
            {
                return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is not built; run `dotnet build Halfhour.slnx -c Release` first.");
            }
        }

        throw new InvalidOperationException($"no Halfhour.slnx above {AppContext.BaseDirectory}");
    }
}
