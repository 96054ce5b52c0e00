using System.CommandLine;
using System.Diagnostics;
using Halfhour.Broker.Publishing;
using Halfhour.Market.Appointments;
using Halfhour.Market.Consumption;
using Halfhour.Market.Validation;
using Halfhour.Server.Publishing;

namespace Halfhour.Cli.Bench;

/// <summary>
/// <c>halfhour bench validate</c>: how many messages one core validates per second. Figures are per core of CPU
/// time (process CPU time over the measured loop, one thread), so they do not depend on how busy the machine is.
/// </summary>
public static class ValidateBenchmark
{
    // Distinct messages cycled through: enough that the branch predictor cannot learn one message (and MPANs,
    // values and quality runs vary), few enough (about 4.5 MB) that the loop measures validation, not the memory bus.
    private const int DistinctMessages = 1024;

    // Warm-up before measuring, so tiered compilation has finished promoting the hot path to optimised code.
    private static readonly TimeSpan WarmUpFor = TimeSpan.FromSeconds(1);

    // How long each figure is measured in all: long enough that timer and JIT noise stay well under 1%.
    private static readonly TimeSpan MeasureFor = TimeSpan.FromSeconds(4);

    // Rounds the measurement is cut into (each 0.4 s): enough for a stable best and median.
    private const int Rounds = 10;

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

            var (perCore, median, allocated) = Measure(new ConsumptionValidator(), messages, cancellationToken);
            report.Add("if021_msgs_s_per_core", perCore, "msg/s", "best of 10 rounds; one settlement day of 48 periods per message");
            report.Add("if021_msgs_s_per_core_median", median, "msg/s", "median round: what a busy shared machine gives");
            report.Add("if021_mb_s_per_core", perCore * bytes / messages.Length / 1e6, "MB/s");
            report.Add("if021_bytes_allocated_per_msg", allocated, "B", "MessageFacts strings only; nothing per period");
            // The broker's path: envelope dispatch in the generic validator, then the dedicated IF-021 validator.
            var dispatching = new MessageValidator();
            dispatching.UseFor("IF-021", new ConsumptionValidator());
            var (dispatched, _, _) = Measure(dispatching, messages, cancellationToken);
            report.Add("if021_dispatched_msgs_s_per_core", dispatched, "msg/s", "as the broker calls it: generic envelope dispatch, then the IF-021 validator");

            MeasureBatches(report, "if021", dispatching, messages, cancellationToken);

            var mix = GenericMix();
            var (generic, genericMedian, genericAllocated) = Measure(new MessageValidator(), mix.Messages, cancellationToken);
            report.Add("generic_msgs_s_per_core", generic, "msg/s", $"best of 10 rounds; every other payload variant, {mix.Bytes / mix.Messages.Length} bytes on average");
            report.Add("generic_msgs_s_per_core_median", genericMedian, "msg/s");
            report.Add("generic_bytes_allocated_per_msg", genericAllocated, "B");
            MeasureBatches(report, "generic", new MessageValidator(), mix.Messages, cancellationToken);
            report.Add("if021_generated_msgs_s_per_core", MeasureGenerator(builder), "msg/s", "ConsumptionMessageBuilder, the simulator's and benchmarks' source");
            var (tableBytes, snapshotBytes) = MeasureAppointmentBook(builder);
            report.Add("appointment_bytes_per_mpan", tableBytes, "B", $"{AppointmentSample:N0} MPANs with distributor, supplier, data and metering service");
            report.Add("appointment_snapshot_bytes_per_mpan", snapshotBytes, "B");
            report.Note($"{DistinctMessages} distinct messages, {bytes / messages.Length} bytes on average; CPU time of this process on one thread.");
            await report.PublishAsync(parse.GetValue(BenchCommand.JsonOption), cancellationToken);
            return 0;
        });
        return command;
    }

    // Messages per published array, as the SDK and `bench dip` send them.
    private const int BatchSize = 100;

    /// <summary>
    /// The server's read of published arrays of <see cref="BatchSize"/>: its shape check (well-formed, depth, count) and every
    /// message's validation, first as two passes (the check skips each message, then each is validated from its bytes), then
    /// as the server makes it (each message validated on the check's reader: IF-021 in that one pass; other interfaces have
    /// their envelope scanned on it, then their schema checked from their bytes).
    /// </summary>
    private static void MeasureBatches(BenchReport report, string prefix, MessageValidator validator, byte[][] messages, CancellationToken cancellationToken)
    {
        var batches = new byte[messages.Length / BatchSize][];
        for (var b = 0; b < batches.Length; b++)
        {
            batches[b] = System.Text.Encoding.UTF8.GetBytes("[" + string.Join(",", messages.Skip(b * BatchSize).Take(BatchSize).Select(m => System.Text.Encoding.UTF8.GetString(m))) + "]");
        }

        var ranges = new List<Range>(BatchSize);
        foreach (var body in batches)
        {
            // Every message must be valid, or the figures would measure early rejections.
            var check = new ValidatedBatch(validator);
            Check(body, ranges, check);
            if (!check.Messages.All(m => m.Verdict.IsValid))
            {
                throw new InvalidOperationException("a benchmark batch holds a refused message");
            }
        }

        var (twoPass, twoPassMedian, twoPassAllocated) = Measure(() =>
        {
            foreach (var body in batches)
            {
                ranges.Clear();
                Check(body, ranges, null);
                var batch = new ValidatedBatch(validator);
                foreach (var range in ranges)
                {
                    batch.Add(range, body);
                }
            }

            return batches.Length * BatchSize;
        }, cancellationToken);
        var (onePass, onePassMedian, onePassAllocated) = Measure(() =>
        {
            foreach (var body in batches)
            {
                ranges.Clear();
                Check(body, ranges, new ValidatedBatch(validator));
            }

            return batches.Length * BatchSize;
        }, cancellationToken);
        report.Add($"{prefix}_batch_two_pass_us_per_msg", 1e6 / twoPass, "µs", $"best round; arrays of {BatchSize}: shape check, then each message validated from its bytes (before one pass)");
        report.Add($"{prefix}_batch_two_pass_us_per_msg_median", 1e6 / twoPassMedian, "µs");
        report.Add($"{prefix}_batch_two_pass_bytes_allocated_per_msg", twoPassAllocated, "B");
        report.Add($"{prefix}_batch_one_pass_us_per_msg", 1e6 / onePass, "µs", "best round; each message validated on the shape check's reader, as the server does");
        report.Add($"{prefix}_batch_one_pass_us_per_msg_median", 1e6 / onePassMedian, "µs");
        report.Add($"{prefix}_batch_one_pass_bytes_allocated_per_msg", onePassAllocated, "B");

        static void Check(byte[] body, List<Range> ranges, ValidatedBatch? validated)
        {
            var shape = MessageBatch.Check(body, BatchSize, ValidationLimits.Default.MaxDepth, ranges, validated);
            if (shape.Error is not null)
            {
                throw new InvalidOperationException($"a benchmark batch is refused: {shape.Error}");
            }
        }
    }

    /// <summary>A mix of every payload variant but IF-021 (which has its own figure), several seeds each.</summary>
    private static (byte[][] Messages, long Bytes) GenericMix()
    {
        var generator = new Halfhour.Market.TestData.MessageGenerator();
        var messages = new List<byte[]>();
        long bytes = 0;
        foreach (var variant in Halfhour.Market.Catalogue.InterfaceCatalogue.Specification.Variants)
        {
            if (variant.InterfaceId == "IF-021")
            {
                continue;
            }

            for (var seed = 0; seed < 8; seed++)
            {
                var message = generator.GenerateUtf8(variant, seed);
                messages.Add(message);
                bytes += message.Length;
            }
        }

        return ([.. messages], bytes);
    }

    // Messages generated for the generator's figure: about a second of work.
    private const int GeneratedSample = 200_000;

    private static double MeasureGenerator(ConsumptionMessageBuilder builder)
    {
        var output = new System.Buffers.ArrayBufferWriter<byte>(builder.MaxMessageBytes);
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        for (var i = 0; i < GeneratedSample; i++)
        {
            output.ResetWrittenCount();
            builder.Write(i, output);
        }

        process.Refresh();
        return GeneratedSample / (process.TotalProcessorTime - cpuBefore).TotalSeconds;
    }

    // MPANs in the appointment book sample: large enough that the fixed costs (party table) vanish per MPAN.
    private const int AppointmentSample = 1_000_000;

    private static (double TableBytes, double SnapshotBytes) MeasureAppointmentBook(ConsumptionMessageBuilder builder)
    {
        var roster = builder.Roster;
        var book = new AppointmentBook(AppointmentSample);
        var day = new DateOnly(2025, 1, 1);
        for (var i = 0; i < AppointmentSample; i++)
        {
            var mpan = builder.MpanOf(i);
            book.Apply(new AppointmentChange(mpan, AppointmentChangeKind.Appoint, AppointedRole.Supplier, roster.SupplierOf(mpan), day, roster.DistributorOf(mpan)));
            book.Apply(new AppointmentChange(mpan, AppointmentChangeKind.Appoint, AppointedRole.DataService, roster.DataServiceOf(mpan), day));
            book.Apply(new AppointmentChange(mpan, AppointmentChangeKind.Appoint, AppointedRole.MeteringService, roster.SupplierOf(mpan ^ 1), day));
        }

        var snapshot = new CountingStream();
        book.WriteSnapshot(snapshot);
        return (book.MemoryBytes / (double)book.Count, snapshot.Length / (double)book.Count);
    }

    /// <summary>A write-only stream that only counts: the snapshot's size without holding it.</summary>
    private sealed class CountingStream : Stream
    {
        private long _length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _length += count;

        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;
    }

    private static (double Best, double Median, double AllocatedPerMessage) Measure(IMessageValidator validator, byte[][] messages, CancellationToken cancellationToken)
    {
        var facts = new MessageFacts();
        for (var i = 0; i < messages.Length; i++)
        {
            // Every message must be valid, or the figure would measure early rejections.
            if (!validator.Validate(messages[i], facts).IsValid)
            {
                throw new InvalidOperationException($"generated message {i} is not valid: {validator.Validate(messages[i], facts)}");
            }
        }

        return Measure(() =>
        {
            foreach (var message in messages)
            {
                validator.Validate(message, facts);
            }

            return messages.Length;
        }, cancellationToken);
    }

    /// <summary>Messages per CPU second (best and median round) and bytes allocated per message of <paramref name="work"/>, which answers how many messages it did.</summary>
    private static (double Best, double Median, double AllocatedPerMessage) Measure(Func<int> work, CancellationToken cancellationToken)
    {
        for (var warm = Stopwatch.StartNew(); warm.Elapsed < WarmUpFor;)
        {
            work();
        }

        // Rounds, and the best kept: on a shared machine a neighbour on the sibling hyperthread slows a round down
        // without the code changing, so the fastest round is the figure of the code; the median is noted beside it.
        var process = Process.GetCurrentProcess();
        var rounds = new double[Rounds];
        long count = 0;
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (var round = 0; round < Rounds && !cancellationToken.IsCancellationRequested; round++)
        {
            process.Refresh();
            var cpuBefore = process.TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            long roundCount = 0;
            while (wall.Elapsed < MeasureFor / Rounds)
            {
                roundCount += work();
            }

            process.Refresh();
            rounds[round] = roundCount / (process.TotalProcessorTime - cpuBefore).TotalSeconds;
            count += roundCount;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Array.Sort(rounds);
        return (rounds[^1], rounds[rounds.Length / 2], (double)allocated / Math.Max(1, count));
    }
}
