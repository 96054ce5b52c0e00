using System.Diagnostics;

namespace Halfhour.Cli.Bench;

/// <summary>CPU seconds one side used in a measured phase: until the last message was answered, and until the last copy was delivered.</summary>
/// <param name="PublishOnly">From the start of the measured phase to its last publish answer.</param>
/// <param name="WithDelivery">From the start of the measured phase to the end of the load generator (every copy delivered).</param>
internal readonly record struct CpuWindow(double PublishOnly, double WithDelivery);

/// <summary>Something read when a load generator says its measured phase starts, when it has published, and when it ends.</summary>
internal interface IPhaseMeter
{
    /// <summary>The measured phase starts (after the warm-up).</summary>
    void Start();

    /// <summary>The measured phase's last publish was answered.</summary>
    void Published();

    /// <summary>The load generator ended: every copy was delivered.</summary>
    void End();
}

/// <summary>Samples the CPU time of processes on the measured side when a load generator says its phases start and end.</summary>
/// <param name="cpuSeconds">The CPU seconds used so far by the processes measured (NaN when there are none).</param>
internal sealed class CpuMeter(Func<double> cpuSeconds) : IPhaseMeter
{
    private double _start = double.NaN;
    private double _published = double.NaN;
    private double _end = double.NaN;

    /// <summary>What was measured; NaN where a mark was not reached.</summary>
    public CpuWindow Window => new(_published - _start, _end - _start);

    /// <summary>A meter of one process (of none: every window NaN).</summary>
    public static CpuMeter Of(Process? process) => new(() => LoadProcess.CpuOf(process));

    /// <inheritdoc />
    public void Start() => _start = cpuSeconds();

    /// <inheritdoc />
    public void Published() => _published = cpuSeconds();

    /// <inheritdoc />
    public void End() => _end = cpuSeconds();
}

/// <summary>
/// The benchmarks' processes: this program started again (a server, a load generator), and the line protocol by
/// which a load generator tells the parent when its measured phase starts and when it has published, so the
/// parent samples the measured side's CPU at those moments and the two sides' CPU is measured apart.
/// </summary>
internal static class LoadProcess
{
    /// <summary>The line a load generator prints when the measured phase starts (after the warm-up).</summary>
    public const string MeasuringLine = "bench load: measuring";

    /// <summary>The line it prints when the measured phase's last answer has come.</summary>
    public const string PublishedLine = "bench load: published";

    /// <summary>Starts this program again with other arguments (<c>dotnet halfhour.dll …</c>), its output passed through or read by the caller.</summary>
    public static Process StartHalfhour(bool redirect, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = redirect };
        start.ArgumentList.Add(typeof(LoadProcess).Assembly.Location);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("could not start " + string.Join(' ', arguments));
    }

    /// <summary>
    /// Runs a load generator (<c>halfhour ARGUMENTS</c>) to its end, passing its output through and marking
    /// <paramref name="meters"/> at its protocol lines; the end is marked when it exits.
    /// </summary>
    public static async Task<int> RunAsync(IReadOnlyList<IPhaseMeter> meters, string[] arguments, CancellationToken cancellationToken)
    {
        using var load = StartHalfhour(redirect: true, arguments);
        while (await load.StandardOutput.ReadLineAsync(cancellationToken) is { } line)
        {
            Action<IPhaseMeter>? mark = line switch
            {
                MeasuringLine => m => m.Start(),
                PublishedLine => m => m.Published(),
                _ => null,
            };
            if (mark is null)
            {
                Console.Out.WriteLine(line);
                continue;
            }

            foreach (var meter in meters)
            {
                mark(meter);
            }
        }

        await load.WaitForExitAsync(cancellationToken);
        foreach (var meter in meters)
        {
            meter.End();
        }

        return load.ExitCode;
    }

    /// <summary>CPU seconds a running process has used; NaN for none.</summary>
    public static double CpuOf(Process? process)
    {
        if (process is null)
        {
            return double.NaN;
        }

        process.Refresh();
        return process.TotalProcessorTime.TotalSeconds;
    }
}
