using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Halfhour.Market.Participants;

namespace Halfhour.Cli.Bench;

/// <summary>What one run of the load generator measured, handed back to <see cref="DipBenchmark"/> as JSON.</summary>
/// <param name="Sent">Messages sent in the measured phase.</param>
/// <param name="Accepted">Messages of the measured phase answered MSG0000.</param>
/// <param name="Requests">Requests of the measured phase answered.</param>
/// <param name="PublishSeconds">Wall time of the measured phase, to its last answer.</param>
/// <param name="P50Ms">Median request latency.</param>
/// <param name="P99Ms">99th percentile request latency.</param>
/// <param name="Delivered">Copies pulled and acknowledged by all recipients, warm-up included.</param>
/// <param name="DeliveredMeasured">Copies pulled from the start of the measured phase on.</param>
/// <param name="DeliverSeconds">Wall time from the start of the measured phase to the last copy pulled.</param>
/// <param name="Expected">Copies the recipients should pull: accepted messages times recipients per message.</param>
/// <param name="CpuSeconds">CPU time of the load generator from the measured phase on (building, signing, TLS, pulling).</param>
/// <param name="FirstError">The first refusal or failure seen, if any.</param>
/// <param name="Retries">Batches sent again because the backbone answered MSG1500 (could not store; retry) or the connection was lost mid-request, warm-up included.</param>
/// <param name="PullsMeasured">Pulls that returned copies (each followed by one acknowledgement) from the start of the measured phase on.</param>
/// <param name="WarmupMessages">Messages published before the measured phase: those asked for and the rounds more until compiling settled.</param>
internal sealed record DipLoadResult(long Sent, long Accepted, long Requests, double PublishSeconds, double P50Ms, double P99Ms,
    long Delivered, long DeliveredMeasured, double DeliverSeconds, long Expected, double CpuSeconds, string? FirstError, long Retries = 0, long PullsMeasured = 0,
    long WarmupMessages = 0);

/// <summary>
/// <c>halfhour bench dip load</c> (hidden): the load generator of <c>bench dip</c>, run as its own process so that its CPU
/// is separate from the server's. The data service signs and sends IF-021 arrays of 100 messages over several mutual-TLS
/// connections at once, while every recipient (suppliers, distributors, load shaping, market-wide data) pulls its
/// inbox through the native API and acknowledges.
/// </summary>
internal static class DipLoadGenerator
{
    // The DIP's customary batch: 100 messages of one sender in one signed request.
    private const int BatchSize = 100;

    // A batch refused with MSG1500 (storage unavailable, retry) is sent this many times at most, pausing a little
    // longer each time: long enough for a JetStream leader election, short enough to fail a broken run.
    private const int MaxAttempts = 5;
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(500);

    // Messages a recipient takes per pull: the most the backbone hands out at once (PullEndpoints.MaxMessages), so a
    // recipient keeps up with fewer round trips, signatures and acknowledgements, as a busy participant's system would.
    private const int PullSize = 1000;

    // A recipient's long poll: short, so the end of the run is noticed within a second.
    private const int WaitSeconds = 1;

    // Room for the answer to a batch of 100 (~20 KB: a result of ~200 bytes each), so it is read without regrowing.
    private const int AnswerBytes = 32 << 10;

    private static readonly Uri Channel = new("dip-channel/IF-021", UriKind.Relative);
    private static readonly Uri Acknowledgements = new("native/v1/channels/IF-021/acknowledgements", UriKind.Relative);
    private static readonly System.Net.Http.Headers.MediaTypeHeaderValue Json = new("application/json");

    // The longest the measured phase waits for the warm-up's copies to be delivered.
    private static readonly TimeSpan DeliveryCatchUp = TimeSpan.FromSeconds(120);

    // The run ends when publishing has ended and no recipient has pulled anything for this long.
    private static readonly TimeSpan QuietEnd = TimeSpan.FromSeconds(3);

    /// <summary>Builds the hidden <c>load</c> subcommand.</summary>
    public static Command Create()
    {
        var url = new Option<string>("--url") { Required = true, Description = "The backbone's base address." };
        var data = new Option<DirectoryInfo>("--data") { Required = true, Description = "The backbone's data directory (its CA and sandbox participants)." };
        var roster = new Option<FileInfo>("--roster") { Required = true, Description = "The enrolled roster's credentials (JSON)." };
        var messages = new Option<long>("--messages") { DefaultValueFactory = _ => 100_000 };
        var first = new Option<long>("--first") { Description = "The number of the first message (sender references must be new to the backbone)." };
        var warmup = new Option<long>("--warmup") { Description = "Messages published before the measured ones." };
        var connections = new Option<int>("--connections") { DefaultValueFactory = _ => 8, Description = "Concurrent publishing requests (each on its own connection)." };
        var result = new Option<FileInfo>("--result") { Required = true, Description = "Where to write the measured result (JSON)." };
        var command = new Command("load", "The load generator of bench dip (run by it).") { Hidden = true };
        foreach (var option in (Option[])[url, data, roster, messages, first, warmup, connections, result])
        {
            command.Options.Add(option);
        }

        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var outcome = await RunAsync(new Uri(parse.GetValue(url)!), parse.GetValue(data)!.FullName, DipMarket.Read(parse.GetValue(roster)!.FullName),
                (parse.GetValue(first), parse.GetValue(warmup), parse.GetValue(messages)), parse.GetValue(connections), cancellationToken);
            await File.WriteAllBytesAsync(parse.GetValue(result)!.FullName, JsonSerializer.SerializeToUtf8Bytes(outcome), cancellationToken);
            return outcome.FirstError is null ? 0 : 2;
        });
        return command;
    }

    private static async Task<DipLoadResult> RunAsync(Uri url, string dataDirectory, List<ParticipantCredentials> roster, (long First, long Warmup, long Messages) plan,
        int connections, CancellationToken cancellationToken)
    {
        var trust = DipMarket.Trust(dataDirectory);
        var builder = DipMarket.Builder();
        var sender = roster.Single(p => p.Role == Role.SDS);
        var recipients = roster.Concat(DipMarket.Sandbox(dataDirectory)).Where(p => p.Role is Role.SUP or Role.LDSO or Role.LSS or Role.MDS).ToList();
        var centralCopies = recipients.Count(p => p.Role is Role.LSS or Role.MDS);
        var run = new Run();

        // One client per connection: HTTP/1.1 gives each concurrent request its own TLS connection anyway, and
        // separate clients keep the connections' work apart as real senders' systems would.
        var publishers = Enumerable.Range(0, connections).Select(_ => DipMarket.Connect(url, trust, sender)).ToList();
        var pullers = recipients.Select(p => DipMarket.Connect(url, trust, p)).ToList();
        var clock = Stopwatch.StartNew();
        var publishing = new TaskCompletionSource();
        var pulling = Task.WhenAll(pullers.Select(client => Task.Run(() => PullAsync(client, run, publishing.Task, clock, cancellationToken), cancellationToken)));

        // The warm-up opens connections and lets tiered compilation finish in both processes, so the measured phase is
        // the steady state a backbone running all day is in: at least the messages asked for, then rounds more while
        // either process still spends a noticeable share of its CPU compiling (unless the warm-up asked for is shorter
        // than a round: a quick run, not a steady one).
        async Task<Phase> PublishPhaseAsync(long first, long end)
        {
            var phase = new Phase(first, end, connections) { StartedAt = clock.Elapsed };
            await Task.WhenAll(publishers.Select((client, i) => Task.Run(() => PublishAsync(client, builder, run, phase, i, clock, cancellationToken), cancellationToken)));
            return phase;
        }

        var warmup = await PublishPhaseAsync(plan.First, plan.First + plan.Warmup);
        var (warmupEnd, warmupAccepted) = (warmup.End, warmup.Accepted);
        if (plan.Warmup >= WarmupGauge.RoundMessages)
        {
            using var operatorApi = await DipMarket.OperatorAsync(url, dataDirectory, cancellationToken);
            var gauge = new WarmupGauge(operatorApi);
            await gauge.MarkAsync(cancellationToken);
            var shares = (Server: double.NaN, Self: double.NaN);
            for (var round = 0; round < WarmupGauge.MaxRounds && run.FirstError is null; round++)
            {
                var more = await PublishPhaseAsync(warmupEnd, warmupEnd + WarmupGauge.RoundMessages);
                (warmupEnd, warmupAccepted) = (more.End, warmupAccepted + more.Accepted);
                shares = await gauge.MarkAsync(cancellationToken);
                if (WarmupGauge.Settled(shares, gauge.ServerReadable))
                {
                    break;
                }
            }

            Console.Out.WriteLine($"bench dip: warmed up with {warmupEnd - plan.First:N0} messages; compiling took {shares.Server:P1} of the server's CPU " +
                $"and {shares.Self:P1} of the load generator's over the last {WarmupGauge.RoundMessages:N0}" +
                (WarmupGauge.Settled(shares, gauge.ServerReadable) ? "."
                    : run.FirstError is not null ? $" (stopped by an error: {run.FirstError})."
                    : $" (not settled within {WarmupGauge.MaxRounds} rounds: measured anyway)."));
        }

        // The measured phase starts once the warm-up's copies are delivered, so the CPU measured from then on (both
        // processes') is that of the measured messages alone, publishing and delivery together.
        var copiesPerMessage = 2 + centralCopies;
        var caughtUp = Stopwatch.StartNew();
        while (Interlocked.Read(ref run.Delivered) < warmupAccepted * copiesPerMessage && caughtUp.Elapsed < DeliveryCatchUp && run.FirstError is null)
        {
            await Task.Delay(50, cancellationToken);
        }

        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        Console.Out.WriteLine(LoadProcess.MeasuringLine);
        run.MeasureFrom(clock.Elapsed);
        var measured = await PublishPhaseAsync(warmupEnd, warmupEnd + plan.Messages);
        Console.Out.WriteLine(LoadProcess.PublishedLine);
        publishing.SetResult();
        await pulling;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        foreach (var client in publishers.Concat(pullers))
        {
            client.Dispose();
        }

        return ResultOf(warmupAccepted, warmupEnd - plan.First, measured, run, copiesPerMessage, cpu);
    }

    /// <summary>The result of a run: the measured phase's answers and latencies, the copies delivered, and the CPU used.</summary>
    internal static DipLoadResult ResultOf(long warmupAccepted, long warmupMessages, Phase measured, Run run, long copiesPerMessage, double cpuSeconds)
    {
        var all = measured.Latencies.SelectMany(l => l).Order().ToArray();
        double Percentile(double p) => all.Length == 0 ? double.NaN : all[Math.Min(all.Length - 1, (int)(p * all.Length))];
        return new DipLoadResult(measured.Sent, measured.Accepted, all.Length, (measured.LastAnswer - measured.StartedAt).TotalSeconds, Percentile(0.5), Percentile(0.99),
            run.Delivered, run.DeliveredMeasured, (run.LastDelivery - measured.StartedAt).TotalSeconds, (warmupAccepted + measured.Accepted) * copiesPerMessage, cpuSeconds, run.FirstError, Interlocked.Read(ref run.Retries),
            Interlocked.Read(ref run.PullsMeasured), warmupMessages);
    }

    private static async Task PublishAsync(HttpClient client, Market.Consumption.ConsumptionMessageBuilder builder, Run run, Phase phase, int lane,
        Stopwatch clock, CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>(BatchSize * (builder.MaxMessageBytes + 1) + 2);
        var answer = new byte[AnswerBytes];
        var latencies = phase.Latencies[lane];
        while (!cancellationToken.IsCancellationRequested)
        {
            var start = Interlocked.Add(ref phase.Next, BatchSize) - BatchSize;
            if (start >= phase.End)
            {
                return;
            }

            var count = (int)Math.Min(BatchSize, phase.End - start);
            body.ResetWrittenCount();
            body.Write("["u8);
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    body.Write(","u8);
                }

                builder.Write(start + i, body);
            }

            body.Write("]"u8);
            // A batch the backbone could not store (MSG1500, "Retry") is sent again with the same bytes, as the contract
            // tells a sender to: de-duplication answers what was stored before with MSG0001 and the original ID.
            var accepted = 0;
            for (var attempt = 1; ; attempt++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, Channel)
                {
                    Content = new ReadOnlyMemoryContent(body.WrittenMemory) { Headers = { ContentType = Json } },
                };
                var sentAt = clock.Elapsed;
                HttpResponseMessage? response = null;
                int length;
                try
                {
                    // The answer is read into this lane's buffer rather than buffered by HttpClient and copied out.
                    response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                    (answer, length) = await ReadAllAsync(response.Content, answer, cancellationToken);
                }
                catch (Exception e) when (e is HttpRequestException or IOException && attempt < MaxAttempts)
                {
                    // A connection lost mid-request (the server under starvation may drop one): the outcome is unknown,
                    // so the same bytes go again, as for MSG1500; what was stored comes back as MSG0001.
                    response?.Dispose();
                    Interlocked.Increment(ref run.Retries);
                    await Task.Delay(RetryPause * attempt, cancellationToken);
                    continue;
                }

                using var _ = response;
                var answeredAt = clock.Elapsed;
                latencies.Add((answeredAt - sentAt).TotalMilliseconds);
                Run.Max(ref phase.LastAnswerTicks, answeredAt.Ticks);
                var tally = response.StatusCode is HttpStatusCode.Created or HttpStatusCode.MultiStatus or HttpStatusCode.BadRequest
                    ? BatchAnswer.Of(answer.AsSpan(0, length), isRetry: attempt > 1, mayRetry: attempt < MaxAttempts) : null;
                if (tally is not { } results)
                {
                    run.Fail($"POST dip-channel/IF-021 answered {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(answer.AsSpan(0, Math.Min(length, 600)))}");
                    break;
                }

                if (results.Results != count)
                {
                    run.Fail($"POST dip-channel/IF-021 answered {results.Results} results for {count} messages.");
                }

                if (results.Refusal is not null)
                {
                    run.Fail($"a message was refused: {results.Refusal}");
                }

                accepted = results.Accepted;
                var retryable = results.Retryable;
                if (retryable == 0)
                {
                    break;
                }

                Interlocked.Increment(ref run.Retries);
                await Task.Delay(RetryPause * attempt, cancellationToken);
            }

            Interlocked.Add(ref phase.Sent, count);
            Interlocked.Add(ref phase.Accepted, accepted);
        }
    }

    /// <summary>One publishing phase: the messages <c>[Next, End)</c> shared out in batches, and what their answers said.</summary>
    internal sealed class Phase(long first, long end, int lanes)
    {
        public long Next = first;
        public long Sent;
        public long Accepted;
        public long LastAnswerTicks;

        public long End { get; } = end;

        public TimeSpan StartedAt { get; init; }

        public TimeSpan LastAnswer => TimeSpan.FromTicks(Interlocked.Read(ref LastAnswerTicks));

        public List<double>[] Latencies { get; } = [.. Enumerable.Range(0, lanes).Select(_ => new List<double>())];
    }

    private static async Task PullAsync(HttpClient client, Run run, Task publishing, Stopwatch clock, CancellationToken cancellationToken)
    {
        var quietSince = clock.Elapsed;
        long pulls = 0;
        var receipts = new PullReceipts();
        while (!cancellationToken.IsCancellationRequested)
        {
            // The pull number makes each signed GET unique: two identical signed requests within one second of
            // signing date carry the same signature, and the backbone refuses the second as a replay.
            using (var response = await client.GetAsync($"native/v1/channels/IF-021/messages?max={PullSize}&waitSeconds={WaitSeconds}&pull={++pulls}",
                HttpCompletionOption.ResponseHeadersRead, cancellationToken))
            {
                if (!response.IsSuccessStatusCode)
                {
                    run.Fail($"GET native/v1/channels/IF-021/messages answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
                    await Task.Delay(TimeSpan.FromSeconds(WaitSeconds), cancellationToken);
                    continue;
                }

                await using var answer = await response.Content.ReadAsStreamAsync(cancellationToken);
                await receipts.ReadAsync(answer, cancellationToken);
            }

            if (receipts.Count == 0)
            {
                if (publishing.IsCompleted && clock.Elapsed - quietSince > QuietEnd)
                {
                    return;
                }

                continue;
            }

            quietSince = clock.Elapsed;
            using var acknowledged = await client.PostAsync(Acknowledgements,
                new ReadOnlyMemoryContent(receipts.Acknowledgement) { Headers = { ContentType = Json } }, cancellationToken);
            if (!acknowledged.IsSuccessStatusCode)
            {
                run.Fail($"POST acknowledgements answered {(int)acknowledged.StatusCode}: {await acknowledged.Content.ReadAsStringAsync(cancellationToken)}");
                continue;
            }

            run.Pulled(receipts.Count, clock.Elapsed);
        }
    }

    /// <summary>Reads a whole answer into <paramref name="buffer"/>, replacing it by a larger one when it does not fit.</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadAllAsync(HttpContent content, byte[] buffer, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
            if (read == 0)
            {
                return (buffer, length);
            }

            length += read;
        }
    }

    /// <summary>What the pulling tasks share: copies delivered, when, and the first error of the run.</summary>
    internal sealed class Run
    {
        public long Delivered;
        public long DeliveredMeasured;
        public long PullsMeasured;
        public long Retries;
        private long _lastDeliveryTicks;
        private long _measureFromTicks = long.MaxValue;
        private int _firstErrorSet;

        public string? FirstError { get; private set; }

        public TimeSpan LastDelivery => TimeSpan.FromTicks(Interlocked.Read(ref _lastDeliveryTicks));

        public void MeasureFrom(TimeSpan at) => Interlocked.Exchange(ref _measureFromTicks, at.Ticks);

        public void Pulled(int copies, TimeSpan at)
        {
            Interlocked.Add(ref Delivered, copies);
            if (at.Ticks >= Interlocked.Read(ref _measureFromTicks))
            {
                Interlocked.Add(ref DeliveredMeasured, copies);
                Interlocked.Increment(ref PullsMeasured);
                Max(ref _lastDeliveryTicks, at.Ticks);
            }
        }

        public void Fail(string error)
        {
            if (Interlocked.CompareExchange(ref _firstErrorSet, 1, 0) == 0)
            {
                FirstError = error;
                Console.Error.WriteLine($"bench dip load: {error}");
            }
        }

        public static void Max(ref long target, long value)
        {
            var current = Interlocked.Read(ref target);
            while (value > current)
            {
                var seen = Interlocked.CompareExchange(ref target, value, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }
    }
}
