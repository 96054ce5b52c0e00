using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Halfhour.Broker.Storage;
using Halfhour.Engines.Nats.Tests.Servers;
using Halfhour.Engines.Nats.Tests.Support;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Xunit.Abstractions;

namespace Halfhour.Engines.Nats.Tests.Faults;

/// <summary>
/// A 3-node cluster with R3 streams loses its stream leader to SIGKILL while a writer appends groups
/// and a reader follows a partition; the leader comes back later. Every acknowledged append must be
/// readable afterwards exactly once, in order per partition, and appends must resume within seconds.
/// </summary>
public sealed class LeaderFailoverTests(ClusterFixture fixture, ITestOutputHelper output) : IClassFixture<ClusterFixture>
{
    private const string Topic = "DEV.IF-021";
    private const int Partitions = 4;

    /// <summary>
    /// A new leader is elected within a few seconds (2.9's election timeouts are 2-5 s) and the client
    /// reconnects to a live node within its reconnect wait: 15 s bounds both on a loaded 2-core machine.
    /// </summary>
    private static readonly TimeSpan ResumeBound = TimeSpan.FromSeconds(15);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Killing_the_stream_leader_loses_no_acknowledged_append_and_appends_resume_within_seconds(int round)
        => await RunRoundAsync(round);

    [Theory]
    [Trait("Category", "Soak")]
    [MemberData(nameof(SoakRounds))]
    public async Task Soak_killing_the_stream_leader_again_and_again_loses_no_acknowledged_append(int round)
        => await RunRoundAsync(round);

    public static TheoryData<int> SoakRounds() => [.. Enumerable.Range(1, 20)];

    /// <summary>
    /// One round. Besides what publishers rely on (every acknowledged append kept once, in order, at its offset), the tail
    /// reader's view must be the partition's: on nats-server 2.9.10 a consumer placed on the restarted old leader used to
    /// hand the reader records the leader does not hold (about one round in six, issue 6), which the store now refuses.
    /// </summary>
    /// <param name="round">The round's number.</param>
    private async Task RunRoundAsync(int round)
    {
        // Each round starts on a whole, healthy cluster (a meta leader and every replica current), whatever an earlier round left.
        foreach (var member in fixture.Cluster.Nodes)
        {
            if (!member.IsRunning)
            {
                output.WriteLine($"round {round}: {member.Name} was down; started again");
                await member.StartAsync();
            }

            await member.WaitHealthyAsync();
        }

        var warnings = new WarningLog();
        var options = fixture.NewStoreOptions() with { LoggerFactory = warnings };
        await using var streams = new RoundStreams(fixture, options, output); // deleted after the store closes, pass or fail
        await using var store = await JetStreamEventStore.ConnectAsync(options);
        await store.EnsureTopicAsync(new TopicSpec(Topic, Partitions));
        using var stop = new CancellationTokenSource();
        var acknowledged = new ConcurrentQueue<(long Group, long[] Offsets)>();
        var failures = 0;
        string? lastError = null;

        var writer = Task.Run(async () =>
        {
            for (long group = 0; !stop.IsCancellationRequested; group++)
            {
                var writes = Enumerable.Range(0, Partitions).Select(p => new EventWrite(Topic, p, default, Encoding.UTF8.GetBytes(KeyOf(group, p)), KeyOf(group, p))).ToArray();
                while (true)
                {
                    try
                    {
                        // As the broker's sender does: a failed group is retried with the same keys.
                        var offsets = await store.AppendAsync(writes);
                        acknowledged.Enqueue((group, offsets));
                        break;
                    }
                    catch (IOException ex)
                    {
                        lastError = ex.InnerException?.Message ?? ex.Message;
                        Interlocked.Increment(ref failures);
                        if (stop.IsCancellationRequested)
                        {
                            return;
                        }

                        await Task.Delay(50);
                    }
                }
            }
        });

        var followed = new List<string>();
        var reader = Task.Run(async () =>
        {
            var position = 0L;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await store.WaitForAsync(Topic, 0, position, stop.Token);
                    using var batch = await store.ReadAsync(Topic, 0, position, 64 << 10, stop.Token);
                    followed.AddRange(batch.Events.Select(e => Encoding.UTF8.GetString(e.Value.Span)));
                    position = batch.NextOffset;
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception ex) when (ex is NatsException or TimeoutException or IOException)
                {
                    await Task.Delay(100); // the leader is gone; the follower retries from where it was
                }
            }
        });

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var leader = await LeaderOfAsync(store.StreamOf(Topic), options);
        var node = fixture.Cluster.Node(leader);
        TimeSpan resumedAfter;
        try
        {
            var beforeKill = acknowledged.Count;
            await node.KillAsync();
            var killedAt = Stopwatch.StartNew();

            // Appends resume on the surviving two nodes.
            while (acknowledged.Count <= beforeKill + 1 && killedAt.Elapsed < ResumeBound)
            {
                await Task.Delay(50);
            }

            resumedAfter = killedAt.Elapsed;
            if (acknowledged.Count <= beforeKill + 1)
            {
                foreach (var survivor in fixture.Cluster.Nodes.Where(n => n != node))
                {
                    output.WriteLine($"--- {survivor.Name} said:{Environment.NewLine}{survivor.RecentOutput}");
                }

                Assert.Fail($"no append was acknowledged within {ResumeBound} of killing leader {leader} ({failures} failed attempts); the writer's last error: {lastError}");
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        finally
        {
            // Restarted whatever happened, so a failed round leaves the next one a whole cluster.
            if (!node.IsRunning)
            {
                await node.StartAsync();
            }

            await Task.Delay(TimeSpan.FromSeconds(1));
            await stop.CancelAsync();
            await writer;
            await reader;
        }

        var groups = acknowledged.ToArray();
        try
        {
            // Every acknowledged group is there once, in order per partition, at the offsets acknowledged.
            for (var p = 0; p < Partitions; p++)
            {
                var stored = await ReadAllAsync(store, p);
                Assert.Equal(stored.Count, stored.Select(s => s.Key).Distinct().Count()); // no key twice
                var offsetOf = stored.ToDictionary(s => s.Key, s => s.Offset);
                var expected = groups.Select(g => KeyOf(g.Group, p)).ToList();
                var missing = groups.Where(g => !offsetOf.ContainsKey(KeyOf(g.Group, p))).ToList();
                if (missing.Count > 0)
                {
                    output.WriteLine($"p{p}: {missing.Count} missing, first {KeyOf(missing[0].Group, p)} at {missing[0].Offsets[p]}; read there gives " +
                        $"{await RecordsAtAsync(store, p, missing[0].Offsets[p], 1 << 10)}; read-all count {stored.Count}, last {stored.LastOrDefault()}");
                }

                if (groups.FirstOrDefault(g => offsetOf.TryGetValue(KeyOf(g.Group, p), out var at) && at != g.Offsets[p]) is { Offsets: not null } moved)
                {
                    // The leader's own answer at the acknowledged offset (a read's first record is a message get).
                    output.WriteLine($"p{p}: {KeyOf(moved.Group, p)} acknowledged at {moved.Offsets[p]}, read at {offsetOf[KeyOf(moved.Group, p)]}; " +
                        $"the leader's next record of p{p} from {moved.Offsets[p]}: {await RecordsAtAsync(store, p, moved.Offsets[p], maxBytes: 1)}");
                }

                Assert.All(groups, g => Assert.Equal(g.Offsets[p], offsetOf[KeyOf(g.Group, p)]));
                // In order: the acknowledged keys appear in the partition in the order they were appended.
                var inOrder = stored.Select(s => s.Key).Where(expected.ToHashSet().Contains).ToList();
                Assert.True(expected.SequenceEqual(inOrder), $"partition {p}: acknowledged keys out of order, first difference at {FirstDifference(expected, inOrder)}");
            }

            // The follower saw partition 0 without gaps or repeats, as far as it got.
            var partition0 = (await ReadAllAsync(store, 0)).Select(s => s.Key).ToList();
            Assert.True(partition0.Take(followed.Count).SequenceEqual(followed),
                $"the follower's view of partition 0 differs at {FirstDifference(partition0, followed)}: {string.Join(',', followed.Skip(Math.Max(0, FirstDifference(partition0, followed) - 2)).Take(5))} vs stored {string.Join(',', partition0.Skip(Math.Max(0, FirstDifference(partition0, followed) - 2)).Take(5))}");
        }
        finally
        {
            // Reads the store refused (a consumer's copy of the stream that was not the leader's), and anything else it warned of:
            // printed whether or not the checks pass; they include the final reads'.
            var figures = store.ConsumerReads;
            output.WriteLine($"round {round}: {figures.Reads} partition reads by consumer, {figures.Created} consumers created, {figures.OffLeader} off the leader not read, {figures.Refused} batches refused; {warnings.Lines.Count} warnings");
            foreach (var line in warnings.Lines.Where(l => l.Contains(nameof(JetStreamEventStore), StringComparison.Ordinal)))
            {
                output.WriteLine(line);
            }
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"round {round}: killed leader {leader}; appends resumed after {resumedAfter.TotalSeconds:F1} s; {groups.Length} groups acknowledged, {failures} failed attempts retried; follower read {followed.Count} of partition 0"));
    }

    /// <summary>Deletes a round's streams when disposed (<see cref="ClusterFixture.DeleteStreamsAsync"/>), saying what it did.</summary>
    private sealed class RoundStreams(ClusterFixture fixture, JetStreamStoreOptions options, ITestOutputHelper output) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => output.WriteLine(await fixture.DeleteStreamsAsync(options));
    }

    private static int FirstDifference(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var i = 0;
        while (i < a.Count && i < b.Count && a[i] == b[i])
        {
            i++;
        }

        return i;
    }

    /// <summary>What a read of <paramref name="partition"/> from <paramref name="offset"/> gives, as offset=key pairs.</summary>
    private static async Task<string> RecordsAtAsync(JetStreamEventStore store, int partition, long offset, int maxBytes)
    {
        using var batch = await store.ReadAsync(Topic, partition, offset, maxBytes);
        return string.Join(',', batch.Events.Select(e => e.Offset + "=" + Encoding.UTF8.GetString(e.Value.Span)));
    }

    private static string KeyOf(long group, int partition) => string.Create(CultureInfo.InvariantCulture, $"g{group}.p{partition}");

    private static async Task<List<(string Key, long Offset)>> ReadAllAsync(JetStreamEventStore store, int partition)
    {
        var all = new List<(string, long)>();
        var position = 0L;
        while (true)
        {
            using var batch = await store.ReadAsync(Topic, partition, position, 1 << 20);
            if (batch.Events.Count == 0)
            {
                return all;
            }

            all.AddRange(batch.Events.Select(e => (Encoding.UTF8.GetString(e.Value.Span), e.Offset)));
            position = batch.NextOffset;
        }
    }

    private static async Task<string> LeaderOfAsync(string stream, JetStreamStoreOptions options)
    {
        await using var connection = new NatsConnection(options.ToNatsOpts());
        var js = new NatsJSContext(connection);
        var info = await js.GetStreamAsync(stream);
        return info.Info.Cluster?.Leader ?? throw new InvalidOperationException($"{stream} has no leader.");
    }
}
