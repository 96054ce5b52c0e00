using System.Buffers;
using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Halfhour.Cli.Bench;

/// <summary>
/// <c>halfhour bench e2e nats</c> (hidden): the NATS JetStream side of <c>bench e2e</c>, run as its own process so its
/// CPU is measured apart from nats-server's. It publishes the same IF-021 message bytes as the Halfhour side, one
/// message per publish, with <see cref="InFlight"/> acknowledged publishes in flight, to one file-stored stream, and
/// one durable pull consumer per recipient (one filter subject each) takes every message with explicit acks.
/// </summary>
internal static class NatsLoadGenerator
{
    /// <summary>The stream the benchmark creates (and a fresh server starts without).</summary>
    public const string Stream = "HALFHOUR_BENCH_E2E";

    // Publishes awaiting their acknowledgement at once: the figure issue #5 fixes for the comparison, enough to keep
    // a loopback JetStream's write path full without one lane waiting on another.
    private const int InFlight = 256;

    // Messages a consumer asks for per pull: nats.net's default, refilled at half.
    private const int PullBatch = 1_000;

    // Unacknowledged messages a consumer may hold: ten pulls' worth, so the ack round trip never starves a consumer.
    private const int MaxAckPending = 10 * PullBatch;

    private const string Subject = "halfhour.bench.e2e.IF-021";

    // The consumers give up when publishing has ended and nothing has arrived for this long.
    private static readonly TimeSpan QuietEnd = TimeSpan.FromSeconds(10);

    /// <summary>Builds the hidden <c>nats</c> subcommand.</summary>
    public static Command Create()
    {
        var urls = new Option<string>("--urls") { Required = true, Description = "Comma-separated nats:// URLs of the server or cluster." };
        var replicas = new Option<int>("--replicas") { DefaultValueFactory = _ => 1, Description = "Stream replicas (1 on one node, 3 on a cluster)." };
        // The recipients of an IF-021 message: its supplier, its distributor, and the central load-shaping and
        // market-wide data services; bench e2e passes as many as the Halfhour side delivered each message to.
        var recipients = new Option<int>("--recipients") { DefaultValueFactory = _ => 4, Description = "Durable consumers, each taking every message." };
        var messages = new Option<long>("--messages") { DefaultValueFactory = _ => 10_000 };
        var warmup = new Option<long>("--warmup") { Description = "Messages published before the measured ones." };
        var result = new Option<FileInfo>("--result") { Required = true, Description = "Where to write the measured result (JSON)." };
        var command = new Command("nats", "The NATS JetStream side of bench e2e (run by it).") { Hidden = true };
        foreach (var option in (Option[])[urls, replicas, recipients, messages, warmup, result])
        {
            command.Options.Add(option);
        }

        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var outcome = await RunAsync(parse.GetValue(urls)!, (parse.GetValue(replicas), parse.GetValue(recipients)), (parse.GetValue(warmup), parse.GetValue(messages)), cancellationToken);
            await File.WriteAllBytesAsync(parse.GetValue(result)!.FullName, JsonSerializer.SerializeToUtf8Bytes(outcome), cancellationToken);
            return outcome.FirstError is null ? 0 : 2;
        });
        return command;
    }

    private static async Task<DipLoadResult> RunAsync(string urls, (int Replicas, int Recipients) layout, (long Warmup, long Messages) plan, CancellationToken cancellationToken)
    {
        var replicas = layout.Replicas;
        // The sender and each recipient are separate systems, each with its own connection, as on the Halfhour side.
        var options = NatsOpts.Default with
        {
            Url = urls,
            Name = "halfhour-bench-e2e",
            // nats.net drops messages when a subscription's buffer is full by default; a benchmark that lost copies
            // would measure less work, so a full buffer holds the socket reader back instead.
            SubPendingChannelFullMode = BoundedChannelFullMode.Wait,
        };
        await using var nats = new NatsConnection(options);
        var js = new NatsJSContext(nats);
        var stream = await js.CreateStreamAsync(new StreamConfig(Stream, [Subject])
        {
            Storage = StreamConfigStorage.File,
            Retention = StreamConfigRetention.Limits,
            NumReplicas = replicas,
        }, cancellationToken);
        Require(stream.Info.Config.NumReplicas == replicas, $"stream replicas {stream.Info.Config.NumReplicas}, not {replicas}");
        var consumers = new List<INatsJSConsumer>();
        var recipientConnections = new List<NatsConnection>();
        foreach (var recipient in Enumerable.Range(1, layout.Recipients).Select(i => "RECIPIENT_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)))
        {
            var connection = new NatsConnection(options with { Name = "halfhour-bench-e2e-" + recipient });
            recipientConnections.Add(connection);
            var consumer = await new NatsJSContext(connection).CreateOrUpdateConsumerAsync(Stream, new ConsumerConfig(recipient)
            {
                FilterSubject = Subject,
                AckPolicy = ConsumerConfigAckPolicy.Explicit,
                DeliverPolicy = ConsumerConfigDeliverPolicy.All,
                MaxAckPending = MaxAckPending,
                NumReplicas = replicas,
            }, cancellationToken);
            // nats-server 2.9 ignores what it does not know without an error; a consumer must filter as asked.
            Require(consumer.Info.Config.FilterSubject == Subject, $"consumer {recipient} filters {consumer.Info.Config.FilterSubject}, not {Subject}");
            consumers.Add(consumer);
        }

        var builder = DipMarket.Builder();
        var run = new DipLoadGenerator.Run();
        var clock = Stopwatch.StartNew();
        var total = plan.Warmup + plan.Messages;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var consuming = Task.WhenAll(consumers.Select(c => Task.Run(() => ConsumeAsync(c, total, run, clock, stop.Token), CancellationToken.None)));

        // The warm-up lets tiered compilation finish, as on the Halfhour side.
        var warmup = new DipLoadGenerator.Phase(0, plan.Warmup, InFlight);
        await Task.WhenAll(Enumerable.Range(0, InFlight).Select(i => Task.Run(() => PublishAsync(js, builder, run, warmup, i, clock, cancellationToken), cancellationToken)));
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        Console.Out.WriteLine(LoadProcess.MeasuringLine);
        run.MeasureFrom(clock.Elapsed);
        var measured = new DipLoadGenerator.Phase(warmup.End, total, InFlight) { StartedAt = clock.Elapsed };
        await Task.WhenAll(Enumerable.Range(0, InFlight).Select(i => Task.Run(() => PublishAsync(js, builder, run, measured, i, clock, cancellationToken), cancellationToken)));
        Console.Out.WriteLine(LoadProcess.PublishedLine);

        // Every copy is expected; a lost one shows as a consumer that stays quiet short of the total.
        while (!consuming.IsCompleted && clock.Elapsed - run.LastDelivery < QuietEnd)
        {
            await Task.WhenAny(consuming, Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken));
        }

        await stop.CancelAsync();
        await consuming;
        process.Refresh();
        var cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        await CheckAllAcknowledgedAsync(consumers, total, run, cancellationToken);
        foreach (var connection in recipientConnections)
        {
            await connection.DisposeAsync();
        }

        return DipLoadGenerator.ResultOf(warmup.Accepted, warmup.End, measured, run, layout.Recipients, cpu);
    }

    private static async Task PublishAsync(NatsJSContext js, Market.Consumption.ConsumptionMessageBuilder builder, DipLoadGenerator.Run run,
        DipLoadGenerator.Phase phase, int lane, Stopwatch clock, CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>(builder.MaxMessageBytes);
        var latencies = phase.Latencies[lane];
        while (!cancellationToken.IsCancellationRequested)
        {
            var number = Interlocked.Increment(ref phase.Next) - 1;
            if (number >= phase.End)
            {
                return;
            }

            body.ResetWrittenCount();
            builder.Write(number, body);
            var sentAt = clock.Elapsed;
            try
            {
                var ack = await js.PublishAsync(Subject, body.WrittenMemory, cancellationToken: cancellationToken);
                ack.EnsureSuccess(); // server-side errors (storage full, no stream) arrive inside the ack
                Interlocked.Increment(ref phase.Accepted);
            }
            catch (NatsException e)
            {
                run.Fail($"publish of message {number} failed: {e.Message}");
            }

            var answeredAt = clock.Elapsed;
            latencies.Add((answeredAt - sentAt).TotalMilliseconds);
            Interlocked.Increment(ref phase.Sent);
            DipLoadGenerator.Run.Max(ref phase.LastAnswerTicks, answeredAt.Ticks);
        }
    }

    private static async Task ConsumeAsync(INatsJSConsumer consumer, long total, DipLoadGenerator.Run run, Stopwatch clock, CancellationToken cancellationToken)
    {
        long taken = 0;
        try
        {
            await foreach (var msg in consumer.ConsumeAsync<ReadOnlyMemory<byte>>(opts: new NatsJSConsumeOpts { MaxMsgs = PullBatch }, cancellationToken: cancellationToken))
            {
                await msg.AckAsync(cancellationToken: cancellationToken);
                run.Pulled(1, clock.Elapsed);
                if (++taken == total)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            run.Fail($"consumer {consumer.Info.Name} took {taken:N0} of {total:N0} messages.");
        }
    }

    /// <summary>The server's view must agree: every consumer delivered every message and holds no unacknowledged one.</summary>
    private static async Task CheckAllAcknowledgedAsync(List<INatsJSConsumer> consumers, long total, DipLoadGenerator.Run run, CancellationToken cancellationToken)
    {
        // Acks are sent without waiting for an answer; the server may still be applying the last ones.
        var deadline = Stopwatch.StartNew();
        foreach (var consumer in consumers)
        {
            while (true)
            {
                await consumer.RefreshAsync(cancellationToken);
                var info = consumer.Info;
                if (info.NumAckPending == 0 && info.NumPending == 0 && info.Delivered.StreamSeq >= (ulong)total)
                {
                    break;
                }

                if (deadline.Elapsed > QuietEnd)
                {
                    run.Fail($"consumer {info.Name}: {info.NumAckPending} unacknowledged, {info.NumPending} undelivered, last delivered sequence {info.Delivered.StreamSeq} of {total}.");
                    break;
                }

                await Task.Delay(100, cancellationToken);
            }
        }
    }

    private static void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException($"bench e2e nats: nats-server did not take the configuration: {what}.");
        }
    }
}
