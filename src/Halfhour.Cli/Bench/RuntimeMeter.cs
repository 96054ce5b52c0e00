using Halfhour.Client.Transport;

namespace Halfhour.Cli.Bench;

/// <summary>
/// Reads a backbone's runtime figures (<c>GET /operator/runtime</c>) at the phases of a measured run, so the bytes it
/// allocated and the collections it made per message are reported beside its CPU, also for a backbone given by URL.
/// </summary>
internal sealed class RuntimeMeter(OperatorClient operatorApi) : IPhaseMeter
{
    /// <summary>The reading when the measured phase started; null when it could not be read.</summary>
    public RuntimeFigures? AtStart { get; private set; }

    /// <summary>The reading when the measured phase's last publish was answered.</summary>
    public RuntimeFigures? AtPublished { get; private set; }

    /// <summary>The reading when every copy was delivered.</summary>
    public RuntimeFigures? AtEnd { get; private set; }

    /// <inheritdoc />
    public void Start() => AtStart = Read();

    /// <inheritdoc />
    public void Published() => AtPublished = Read();

    /// <inheritdoc />
    public void End() => AtEnd = Read();

    // The marks come from the line reader of the load generator's output, which has no synchronisation context to block.
    private RuntimeFigures? Read()
    {
        try
        {
            return operatorApi.RuntimeAsync().GetAwaiter().GetResult();
        }
        catch (HttpRequestException ex)
        {
            Console.Error.WriteLine($"bench: the backbone's runtime figures could not be read ({ex.Message}); they are left out of the report.");
            return null;
        }
    }

    /// <summary>The server's CPU over the measured phase as its process reported it (NaN where a reading is missing).</summary>
    public CpuWindow CpuWindow => AtStart is { } start
        ? new(AtPublished is { } p ? p.ProcessCpuSeconds - start.ProcessCpuSeconds : double.NaN, AtEnd is { } e ? e.ProcessCpuSeconds - start.ProcessCpuSeconds : double.NaN)
        : new(double.NaN, double.NaN);

    /// <summary>Adds the figures of the measured phase to <paramref name="report"/>: per message, publishing and with every delivery.</summary>
    public void AddTo(BenchReport report, long messages)
    {
        if (AtStart is not { } start)
        {
            return;
        }

        var perMessage = Math.Max(1, messages);
        if (AtPublished is { } published)
        {
            report.Add("server_kernel_us_per_msg", (published.KernelCpuSeconds - start.KernelCpuSeconds) * 1e6 / perMessage, "µs",
                "of server_cpu_us_per_msg, in the kernel: sockets, files, page faults, scheduling");
            report.Add("server_alloc_bytes_per_msg", (published.AllocatedBytes - start.AllocatedBytes) / (double)perMessage, "B",
                "managed bytes the server allocated while the measured messages were published");
        }

        if (AtEnd is { } end)
        {
            report.Add("server_alloc_total_bytes_per_msg", (end.AllocatedBytes - start.AllocatedBytes) / (double)perMessage, "B",
                "publishing and delivering every copy");
            report.Add("server_gc_gen0", end.Gen0Collections - start.Gen0Collections, "count", "server collections over the measured phase");
            report.Add("server_gc_gen2", end.Gen2Collections - start.Gen2Collections, "count", "full collections among them");
            if (WarmupGauge.Share(start, end) is var compiling && !double.IsNaN(compiling))
            {
                report.Add("server_jit_pct", compiling * 100, "%", "of the server's CPU spent compiling over the measured phase (steady state: ~0)");
            }

            var seconds = (end.At - start.At).TotalSeconds;
            if (seconds > 0)
            {
                report.Add("server_gc_pause_pct", (end.GcPauseSeconds - start.GcPauseSeconds) / seconds * 100, "%", "of the measured phase's wall time");
            }
        }
    }
}
