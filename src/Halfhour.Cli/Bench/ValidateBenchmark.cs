using System.CommandLine;
using System.Diagnostics;
using Halfhour.Market.Consumption;
using Halfhour.Market.Validation;

namespace Halfhour.Cli.Bench;

/// <summary>
/// <c>halfhour bench validate</c>: how many messages one core validates per second. Figures are per core of CPU
/// time (process CPU time over the measured loop, one thread), so they do not depend on how busy the machine is.
/// </summary>
public static class ValidateBenchmark
{
    // Distinct messages cycled through: enough that the branch predictor cannot learn one message, few enough to build fast.
    private const int DistinctMessages = 4096;

    // How long each figure is measured: long enough that timer and JIT noise stay well under 1%.
    private static readonly TimeSpan MeasureFor = TimeSpan.FromSeconds(3);

    /// <summary>Builds the <c>validate</c> suite.</summary>
    public static Command Create()
    {
        var command = new Command("validate", "Validation throughput: the dedicated IF-021 validator on realistic messages, per core.");
        command.Options.Add(BenchCommand.JsonOption);
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var report = new BenchReport("validate");
            var builder = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { Seed = 2026 });
            var messages = new byte[DistinctMessages][];
            long bytes = 0;
            for (var i = 0; i < messages.Length; i++)
            {
                messages[i] = builder.Build(i);
                bytes += messages[i].Length;
            }

            var (perCore, allocated) = Measure(new ConsumptionValidator(), messages, cancellationToken);
            report.Add("if021_msgs_s_per_core", perCore, "msg/s", "one settlement day of 48 periods per message");
            report.Add("if021_mb_s_per_core", perCore * bytes / messages.Length / 1e6, "MB/s");
            report.Add("if021_bytes_allocated_per_msg", allocated, "B", "MessageFacts strings only; nothing per period");
            // TODO(merge): the generic schema validator lives in Validation/ (another branch); report
            // generic_msgs_s_per_core here by measuring it over the same messages once it is merged.
            report.Note("generic_msgs_s_per_core: not measured on this branch (the generic validator is merged separately).");
            // appointment_bytes_per_mpan: added with the appointment book.
            report.Note($"{DistinctMessages} distinct messages, {bytes / messages.Length} bytes on average; CPU time of this process on one thread.");
            await report.PublishAsync(parse.GetValue(BenchCommand.JsonOption), cancellationToken);
            return 0;
        });
        return command;
    }

    private static (double PerCore, double AllocatedPerMessage) Measure(IMessageValidator validator, byte[][] messages, CancellationToken cancellationToken)
    {
        var facts = new MessageFacts();
        for (var i = 0; i < messages.Length; i++)
        {
            // Warm up: JIT tiers, caches; also proves every message valid.
            if (!validator.Validate(messages[i], facts).IsValid)
            {
                throw new InvalidOperationException($"generated message {i} is not valid: {validator.Validate(messages[i], facts)}");
            }
        }

        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var wall = Stopwatch.StartNew();
        long count = 0;
        while (wall.Elapsed < MeasureFor && !cancellationToken.IsCancellationRequested)
        {
            for (var i = 0; i < messages.Length; i++)
            {
                validator.Validate(messages[i], facts);
            }

            count += messages.Length;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        return (count / cpu, (double)allocated / count);
    }
}
