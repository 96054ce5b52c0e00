using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Halfhour.Log;
using EventLog = Halfhour.Log.EventLog;
using Halfhour.Log.Compression;
using Halfhour.Log.Encryption;
using Halfhour.Log.Records;
using Halfhour.Log.Topics;

namespace Halfhour.Cli.Bench;

/// <summary>
/// <c>halfhour bench log</c>: the embedded log's figures on this machine, beside the disk's own
/// fsync bandwidth measured in the same directory in the same run.
/// </summary>
public static class LogBenchmark
{
    /// <summary>The record size the issue fixes for the append figures.</summary>
    private const int RecordBytes = 1500;

    /// <summary>4 producers, as the issue asks.</summary>
    private const int Producers = 4;

    /// <summary>
    /// Each producer keeps 8 appends of 64 records (~96 KB) in flight, as a broker publishing for many
    /// participants at once would: a commit then carries ~3 MB, so the fsync's fixed cost is shared.
    /// </summary>
    private const int InFlightPerProducer = 8;

    private const int RecordsPerAppend = 64;

    /// <summary>Each append phase runs this long after a short warm-up: long enough for ~100 commits.</summary>
    private static readonly TimeSpan PhaseDuration = TimeSpan.FromSeconds(4);

    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(0.5);

    /// <summary>Builds <c>bench log</c> with its hidden helper <c>bench log fill</c> (the writer process that is killed).</summary>
    public static Command Create()
    {
        var size = new Option<long>("--size") { Description = "Bytes of log to build for the recovery figure (recover_small_s uses a tenth). Default 1 GiB; 5 GB and more work.", DefaultValueFactory = _ => 1L << 30 };
        var dir = new Option<DirectoryInfo?>("--dir") { Description = "Where to put the logs and the disk reference file (default: a new folder under the temp directory)." };
        var command = new Command("log", "Embedded event log: disk fsync reference, durable appends (plain, encrypted, zstd), sequential read, recovery after SIGKILL.");
        command.Options.Add(BenchCommand.JsonOption);
        command.Options.Add(size);
        command.Options.Add(dir);
        command.Subcommands.Add(CreateFiller());
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var root = parse.GetValue(dir)?.FullName ?? Path.Combine(Path.GetTempPath(), "halfhour-bench-log-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(root);
            try
            {
                var report = await RunAsync(root, parse.GetValue(size), cancellationToken);
                await report.PublishAsync(parse.GetValue(BenchCommand.JsonOption), cancellationToken);
            }
            finally
            {
                TryDelete(root);
            }

            return 0;
        });
        return command;
    }

    /// <summary>The hidden subcommand the recovery figure runs in a child process and kills.</summary>
    private static Command CreateFiller()
    {
        var dir = new Argument<string>("dir");
        var size = new Argument<long>("size");
        var command = new Command("fill", "(internal) fill a log to SIZE bytes, then append durably until killed.") { Hidden = true };
        command.Arguments.Add(dir);
        command.Arguments.Add(size);
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            await FillThenAppendAsync(parse.GetValue(dir)!, parse.GetValue(size), cancellationToken);
            return 0;
        });
        return command;
    }

    private static async Task<BenchReport> RunAsync(string root, long size, CancellationToken cancellationToken)
    {
        var report = new BenchReport("log");
        var disk = DiskFsyncReference(root);
        report.Add("disk_fsync_mb_s", disk, "MB/s", "raw sequential writes, fsync every 1 MiB, same directory");

        var plainDir = Path.Combine(root, "plain");
        var plainRecords = Payloads(RecordBytes, json: false);
        var (recordsPerSecond, megabytes) = await AppendPhaseAsync(plainDir, new TopicOptions { Partitions = Producers }, null, plainRecords, cancellationToken);
        report.Add("append_records_s", recordsPerSecond, "records/s", $"1,500-byte records, {Producers} producers x {InFlightPerProducer} appends of {RecordsPerAppend} in flight, fsync before ack");
        report.Add("append_mb_s", megabytes, "MB/s", "record bytes acknowledged durable per second");
        report.Add("append_vs_disk", megabytes / disk, "ratio", "append_mb_s / disk_fsync_mb_s (target >= 0.8)");

        report.Add("read_mb_s", ReadAll(plainDir), "MB/s", "sequential read of the whole log above from the page cache, checksums verified");
        TryDelete(plainDir);

        var keyring = new EncryptionKeyring().Add(1, RandomNumberGenerator.GetBytes(32));
        var encrypted = await AppendPhaseAsync(Path.Combine(root, "encrypted"), new TopicOptions { Partitions = Producers, Encrypted = true }, keyring, plainRecords, cancellationToken);
        report.Add("append_encrypted_mb_s", encrypted.MegabytesPerSecond, "MB/s", "as append_mb_s, AES-256-GCM per batch");
        TryDelete(Path.Combine(root, "encrypted"));

        var json = Payloads(0, json: true);
        var zstd = await AppendPhaseAsync(Path.Combine(root, "zstd"), new TopicOptions { Partitions = Producers, Compression = CompressionOptions.Zstd }, null, json, cancellationToken);
        report.Add("append_zstd_mb_s", zstd.MegabytesPerSecond, "MB/s", $"MHHS consumption JSON ({json[0].Length:N0} bytes, 48 periods) before compression, zstd level 3");
        TryDelete(Path.Combine(root, "zstd"));

        // The broker's shape: many small groups, each spread over the 8 partitions of a topic and the audit trail.
        foreach (var (name, journalBytes) in new[] { ("journal", new EventLogOptions().JournalBytes), ("fsync_each_file", 0L) })
        {
            var spread = await SpreadPhaseAsync(Path.Combine(root, "spread-" + name), journalBytes, plainRecords, cancellationToken);
            var how = journalBytes > 0 ? "one sync of the commit journal per group commit" : "an fsync of every file written per group commit (no journal)";
            report.Add($"spread_appends_s_{name}", spread.AppendsPerSecond, "appends/s", $"{SpreadProducers} producers, each append 9 records of 1,500 bytes over 9 partitions; {how}");
            report.Add($"spread_cpu_us_per_append_{name}", spread.CpuMicrosecondsPerAppend, "us", "process CPU time per acknowledged append (user + system)");
            report.Add($"spread_syncs_per_commit_{name}", spread.SyncsPerCommit, "syncs", "fsync/fdatasync calls per group commit");
            TryDelete(Path.Combine(root, "spread-" + name));
        }

        var small = await RecoveryAfterKillAsync(Path.Combine(root, "recover-small"), size / 10, cancellationToken);
        report.Add("recover_small_s", small, "s", $"open after SIGKILL of a writer, log of {size / 10 / 1e6:N0} MB (median of 3 kills)");
        TryDelete(Path.Combine(root, "recover-small"));
        var large = await RecoveryAfterKillAsync(Path.Combine(root, "recover"), size, cancellationToken);
        report.Add("recover_s", large, "s", $"open after SIGKILL of a writer, log of {size / 1e6:N0} MB (median of 3 kills; target < 2 s, flat in size)");
        TryDelete(Path.Combine(root, "recover"));

        report.Note($"machine: {Environment.ProcessorCount} cores; directory {root}; MB = 10^6 bytes");
        return report;
    }

    /// <summary>The physical reference: 1 MiB writes to a growing file, each followed by fsync, for about 3 s.</summary>
    private static double DiskFsyncReference(string root)
    {
        var path = Path.Combine(root, "disk-reference.bin");
        var chunk = RandomNumberGenerator.GetBytes(1 << 20);
        using var handle = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        long written = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(3) && written < (1L << 30))
        {
            RandomAccess.Write(handle, chunk, written);
            RandomAccess.FlushToDisk(handle);
            written += chunk.Length;
        }

        var seconds = clock.Elapsed.TotalSeconds;
        handle.Dispose();
        File.Delete(path);
        return written / 1e6 / seconds;
    }

    private static async Task<(double RecordsPerSecond, double MegabytesPerSecond)> AppendPhaseAsync(string directory, TopicOptions topic, EncryptionKeyring? keyring, byte[][] payloads, CancellationToken cancellationToken)
    {
        using var log = EventLog.Open(directory, new EventLogOptions { Keyring = keyring, RetentionInterval = null });
        log.CreateTopic("bench", topic);
        long records = 0, bytes = 0;
        var measuring = false;
        var stop = false;
        var tasks = new List<Task>();
        for (var p = 0; p < Producers; p++)
        {
            for (var w = 0; w < InFlightPerProducer; w++)
            {
                var partition = p;
                var seed = (p * InFlightPerProducer) + w;
                tasks.Add(Task.Run(
                    async () =>
                    {
                        var batch = new AppendRecord[RecordsPerAppend];
                        long batchBytes = 0;
                        for (var i = 0; i < batch.Length; i++)
                        {
                            var payload = payloads[(seed + i) % payloads.Length];
                            batch[i] = new AppendRecord(payload);
                            batchBytes += payload.Length;
                        }

                        while (!Volatile.Read(ref stop))
                        {
                            await log.AppendAsync("bench", partition, batch, cancellationToken);
                            if (Volatile.Read(ref measuring))
                            {
                                Interlocked.Add(ref records, batch.Length);
                                Interlocked.Add(ref bytes, batchBytes);
                            }
                        }
                    },
                    cancellationToken));
            }
        }

        await Task.Delay(WarmUp, cancellationToken);
        Volatile.Write(ref measuring, true);
        var clock = Stopwatch.StartNew();
        await Task.Delay(PhaseDuration, cancellationToken);
        Volatile.Write(ref measuring, false);
        var seconds = clock.Elapsed.TotalSeconds;
        Volatile.Write(ref stop, true);
        await Task.WhenAll(tasks);
        return (Interlocked.Read(ref records) / seconds, Interlocked.Read(ref bytes) / 1e6 / seconds);
    }

    /// <summary>Concurrent appenders in the spread phase: about the number of publish requests a loaded broker has in flight.</summary>
    private const int SpreadProducers = 16;

    /// <summary>
    /// Appends groups of one record to each of 8 partitions of one topic and 1 of another (a publish request's
    /// events and its audit entry) from <see cref="SpreadProducers"/> tasks; returns appends per second, process
    /// CPU per append, and syncs per group commit.
    /// </summary>
    private static async Task<(double AppendsPerSecond, double CpuMicrosecondsPerAppend, double SyncsPerCommit)> SpreadPhaseAsync(string directory, long journalBytes, byte[][] payloads, CancellationToken cancellationToken)
    {
        using var log = EventLog.Open(directory, new EventLogOptions { RetentionInterval = null, JournalBytes = journalBytes });
        log.CreateTopic("events", new TopicOptions { Partitions = 8 });
        log.CreateTopic("audit", new TopicOptions { Partitions = 1 });
        long appends = 0;
        var measuring = false;
        var stop = false;
        var tasks = new List<Task>();
        for (var p = 0; p < SpreadProducers; p++)
        {
            var seed = p;
            tasks.Add(Task.Run(
                async () =>
                {
                    var group = new AppendRequest[9];
                    for (var i = 0; i < 8; i++)
                    {
                        group[i] = new AppendRequest("events", i, new AppendRecord(payloads[(seed + i) % payloads.Length]));
                    }

                    group[8] = new AppendRequest("audit", 0, new AppendRecord(payloads[seed % payloads.Length]));
                    while (!Volatile.Read(ref stop))
                    {
                        await log.AppendAsync(group, cancellationToken);
                        if (Volatile.Read(ref measuring))
                        {
                            Interlocked.Increment(ref appends);
                        }
                    }
                },
                cancellationToken));
        }

        await Task.Delay(WarmUp, cancellationToken);
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        var (commits, syncs) = (log.CommitMetrics.Commits, log.CommitMetrics.Fsyncs);
        Volatile.Write(ref measuring, true);
        var clock = Stopwatch.StartNew();
        await Task.Delay(PhaseDuration, cancellationToken);
        Volatile.Write(ref measuring, false);
        var seconds = clock.Elapsed.TotalSeconds;
        process.Refresh();
        cpu = process.TotalProcessorTime - cpu;
        (commits, syncs) = (log.CommitMetrics.Commits - commits, log.CommitMetrics.Fsyncs - syncs);
        Volatile.Write(ref stop, true);
        await Task.WhenAll(tasks);
        var measured = Interlocked.Read(ref appends);
        return (measured / seconds, measured == 0 ? 0 : cpu.TotalMicroseconds / measured, commits == 0 ? 0 : (double)syncs / commits);
    }

    /// <summary>Reopens the log and reads every partition from offset 0 to the end; MB/s of segment bytes.</summary>
    private static double ReadAll(string directory)
    {
        long fileBytes = 0;
        foreach (var file in Directory.GetFiles(directory, "*.log", SearchOption.AllDirectories))
        {
            fileBytes += new FileInfo(file).Length;
        }

        using var log = EventLog.Open(directory, new EventLogOptions { RetentionInterval = null });
        long values = 0;
        var warmUp = 0L;
        for (var i = 0; i < 64; i++)
        {
            // Let the JIT reach its optimised code for the read path before the clock starts.
            using var result = log.Read("bench", 0, warmUp);
            foreach (var record in result)
            {
                values += record.Value.Length;
            }

            warmUp = result.NextOffset;
        }

        values = 0;

        var clock = Stopwatch.StartNew();
        for (var partition = 0; partition < Producers; partition++)
        {
            var next = 0L;
            while (true)
            {
                using var result = log.Read("bench", partition, next);
                if (result.IsEmpty)
                {
                    break;
                }

                foreach (var record in result)
                {
                    values += record.Value.Length;
                }

                next = result.NextOffset;
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        return values == 0 ? 0 : fileBytes / 1e6 / seconds;
    }

    /// <summary>
    /// Has a child process build a log of <paramref name="size"/> bytes and append durably, kills it,
    /// and times the reopen; three kills, the median reported, so one slow open (the kernel busy
    /// writing back the fill) does not pass for growth.
    /// </summary>
    private static async Task<double> RecoveryAfterKillAsync(string directory, long size, CancellationToken cancellationToken)
    {
        var seconds = new double[3];
        for (var i = 0; i < seconds.Length; i++)
        {
            seconds[i] = await KillAndReopenAsync(directory, size, cancellationToken);
        }

        Array.Sort(seconds);
        return seconds[seconds.Length / 2];
    }

    private static async Task<double> KillAndReopenAsync(string directory, long size, CancellationToken cancellationToken)
    {
        var self = typeof(LogBenchmark).Assembly.Location;
        var host = Environment.ProcessPath ?? "dotnet";
        var start = Path.GetFileNameWithoutExtension(host) == "dotnet"
            ? new ProcessStartInfo(host, [self, "bench", "log", "fill", directory, size.ToString(CultureInfo.InvariantCulture)])
            : new ProcessStartInfo(host, ["bench", "log", "fill", directory, size.ToString(CultureInfo.InvariantCulture)]);
        start.RedirectStandardOutput = true;
        start.UseShellExecute = false;
        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start the writer process");
        while (await child.StandardOutput.ReadLineAsync(cancellationToken) is { } line && line != "WRITING")
        {
        }

        await Task.Delay(300, cancellationToken); // durable appends under way
        child.Kill(entireProcessTree: true);
        await child.WaitForExitAsync(cancellationToken);

        var clock = Stopwatch.StartNew();
        using var log = EventLog.Open(directory, new EventLogOptions { RetentionInterval = null });
        var seconds = clock.Elapsed.TotalSeconds;
        if (log.GetBounds("fill", 0).NextOffset == 0)
        {
            throw new InvalidOperationException("the writer process left an empty log");
        }

        return seconds;
    }

    private static async Task FillThenAppendAsync(string directory, long size, CancellationToken cancellationToken)
    {
        var batch = new AppendRecord[256];
        var payloads = Payloads(RecordBytes, json: false);
        for (var i = 0; i < batch.Length; i++)
        {
            batch[i] = new AppendRecord(payloads[i % payloads.Length]);
        }

        var batchBytes = (long)batch.Length * RecordBytes;
        // Bulk fill through the page cache (os-cache durability), then the kill lands during fsynced appends.
        using (var bulk = EventLog.Open(directory, new EventLogOptions { Durability = Durability.OsCache, RetentionInterval = null }))
        {
            bulk.CreateTopic("fill", new TopicOptions { Partitions = Producers });
            long existing = 0;
            foreach (var file in Directory.GetFiles(directory, "*.log", SearchOption.AllDirectories))
            {
                existing += new FileInfo(file).Length;
            }

            for (var written = existing; written < size; written += batchBytes * Producers)
            {
                var appends = new Task[Producers];
                for (var p = 0; p < Producers; p++)
                {
                    appends[p] = bulk.AppendAsync("fill", p, batch, cancellationToken).AsTask();
                }

                await Task.WhenAll(appends);
            }
        }

        using var log = EventLog.Open(directory, new EventLogOptions { RetentionInterval = null });
        Console.WriteLine("WRITING");
        var producers = new Task[Producers];
        for (var p = 0; p < Producers; p++)
        {
            var partition = p;
            producers[p] = Task.Run(
                async () =>
                {
                    while (true)
                    {
                        await log.AppendAsync("fill", partition, batch, cancellationToken);
                    }
                },
                cancellationToken);
        }

        await Task.WhenAll(producers);
    }

    /// <summary>Payloads of the given size (varied bytes), or realistic MHHS consumption JSON (48 half-hour periods).</summary>
    private static byte[][] Payloads(int size, bool json)
    {
        var random = new Random(2026);
        var payloads = new byte[64][];
        for (var i = 0; i < payloads.Length; i++)
        {
            if (!json)
            {
                payloads[i] = new byte[size];
                random.NextBytes(payloads[i]);
                continue;
            }

            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"{{\"payload\":{{\"CommonBlock\":{{\"S0\":{{\"interfaceID\":\"IF-021\",\"schemaVersion\":\"1.0\",\"eventCode\":\"ActivePower\"}},\"M0\":{{\"MPANCore\":\"{1900000000000 + random.Next(1_000_000_000)}\"}}}},\"CustomBlock\":{{\"settlementDate\":\"2026-11-01\",\"periods\":[");
            for (var p = 0; p < 48; p++)
            {
                var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(30 * p);
                text.Append(CultureInfo.InvariantCulture, $"{(p > 0 ? "," : "")}{{\"sp\":\"{start:yyyy-MM-ddTHH:mm:sszzz}\",\"v\":\"{random.Next(0, 2000) / 1000.0:0.000}\",\"q\":\"{(random.Next(10) == 0 ? "E" : "A")}\"}}");
            }

            text.Append("]}}}");
            payloads[i] = Encoding.UTF8.GetBytes(text.ToString());
        }

        return payloads;
    }

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }
}
