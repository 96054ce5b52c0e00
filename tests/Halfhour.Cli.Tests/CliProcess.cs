using System.Diagnostics;

namespace Halfhour.Cli.Tests;

/// <summary>Runs the built <c>halfhour</c> program as an operator does: a separate process, real arguments, exit code and output.</summary>
internal static class CliProcess
{
    /// <summary>Runs the program; its exit code, its standard output and its standard error.</summary>
    public static async Task<(int Code, string Output, string Errors)> RunAsync(string[] arguments, string? stdin = null, TimeSpan? timeout = null)
    {
        using var process = Start(arguments, stdin is not null);
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }

        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output, await errors);
    }

    /// <summary>Starts the program with its output (and, if asked, its input) redirected; the caller reads, waits and disposes.</summary>
    public static Process Start(string[] arguments, bool redirectInput = false)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = redirectInput };
        start.ArgumentList.Add(Path());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start)!;
    }

    /// <summary>The CLI the solution build put beside its project (the test script builds the solution first).</summary>
    private static string Path()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var dll = System.IO.Path.Combine(directory.FullName, "src", "Halfhour.Cli", "bin", "Release", "net10.0", "halfhour.dll");
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "Halfhour.slnx")))
            {
                return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is not built; run `dotnet build Halfhour.slnx -c Release` first.");
            }
        }

        throw new InvalidOperationException($"no Halfhour.slnx above {AppContext.BaseDirectory}");
    }
}
