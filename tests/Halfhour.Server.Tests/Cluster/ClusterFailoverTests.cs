using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using Halfhour.Broker.Delivery;
using Halfhour.Client.Contract;
using Halfhour.Engines.Nats.Local;
using Halfhour.Server.Tests.Crash;
using Xunit.Abstractions;

namespace Halfhour.Server.Tests.Cluster;

/// <summary>
/// Two stateless broker nodes on a 3-node JetStream cluster, as an operator runs them: a retry sent to the other node
/// is answered with the original transaction ID; and while data services send to both nodes and every recipient takes
/// webhook pushes, the stream leader is SIGKILLed, then a broker node, then both come back — every message answered
/// with success reaches each of its recipients, nothing unanswered appears, copies of a message carry its one
/// transaction ID, and every recipient's deliveries resume within seconds of its node's death.
/// </summary>
[Collection(FailoverCollection.Name)]
public sealed class ClusterFailoverTests(HalfhourCluster cluster, ITestOutputHelper output) : IClassFixture<HalfhourCluster>
{
    /// <summary>
    /// "Delivery resumes within seconds": a new stream leader is elected within ~5-8 s (nats-server 2.9), every JetStream
    /// request is sent again every 2 s until it is answered, and a dead node's delivery leases lapse within 6 s and are
    /// taken within a second. Most rounds resume after 7-15 s here; nats-server 2.9.10 adds its own stalls: an inbox
    /// stream with "NO quorum, stalled" for ~20 s (rounds of 21.7 and 23.3 s), and when the killed server also led the meta
    /// group, consumer creates and deletes unanswered for ~30 s (a round of 33.3 s, its last recipient's reads waiting on
    /// them). 45 s holds those; a reader stuck for good (as one was on a pointer the new leader did not hold) still fails.
    /// </summary>
    private static readonly TimeSpan ResumeBound = TimeSpan.FromSeconds(45);

    /// <summary>How long a round waits for deliveries to resume before it reports what stalled (longer than the bound, so a slow round says how slow).</summary>
    private static readonly TimeSpan ResumeWait = TimeSpan.FromSeconds(60);

    /// <summary>The longest the audit waits for the backlog to be delivered after the senders stop.</summary>
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(180);

    /// <summary>How long the audit waits for a backlog that stopped shrinking.</summary>
    private static readonly TimeSpan DrainStall = TimeSpan.FromSeconds(30);

    /// <summary>A resume slower than this prints the surviving node's last output with the round.</summary>
    private static readonly TimeSpan SlowResume = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_retry_sent_to_the_other_node_is_answered_with_the_original_transaction_ID()
    {
        var market = cluster.Market;
        var sender = market.Roster.DataServices[0];
        var numbers = Enumerable.Range(900_000, 400).Select(n => (long)n).Where(n => market.Roster.DataServiceOf(market.Builder.MpanOf(n)) == sender).Take(5).ToList();
        var body = cluster.Batch(numbers);

        using var first = await market.Sender(sender).Client.PostAsync("dip-channel/IF-021", HalfhourCluster.Json(body));
        var original = JsonSerializer.Deserialize<StandardResponse>(await first.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);

        using var retry = await cluster.ClientsOfB[sender].PostAsync("dip-channel/IF-021", HalfhourCluster.Json(body));
        var repeated = JsonSerializer.Deserialize<StandardResponse>(await retry.Content.ReadAsStringAsync())!;
        Assert.All(repeated.MessageArray, m => Assert.StartsWith("MSG0001", m.Message, StringComparison.Ordinal));
        Assert.Equal(original.MessageArray.Select(m => m.TransactionId), repeated.MessageArray.Select(m => m.TransactionId));
    }

    [Fact]
    [Trait("Category", "Soak")]
    public Task Soak_killing_the_stream_leader_and_a_broker_node_again_and_again_loses_no_acknowledged_message()
        => RunAsync(cluster, output, rounds: 12, budget: TimeSpan.FromMinutes(10));

    /// <summary>
    /// A NATS node frozen (SIGSTOP) before round 2 leaves its replicas behind, as 2.9.10's stalled catch-up does: round 2
    /// is skipped with a note, round 3 runs once the node is let go and has caught up, and the run ends with the audit.
    /// </summary>
    [Fact]
    [Trait("Category", "Soak")]
    public async Task Soak_a_round_whose_replicas_have_not_caught_up_is_skipped_and_the_run_still_audits()
    {
        NatsServerProcess? frozen = null;
        var skipped = await RunAsync(cluster, output, rounds: 3, budget: TimeSpan.FromMinutes(10), async round =>
        {
            if (round == 2)
            {
                // One fault at a time: round 1's restarted node has caught up first. Not the consumption stream's leader: the
                // round's own fault, were it to run, is that leader's death.
                Assert.Empty(await cluster.WaitReplicasCurrentAsync(TimeSpan.FromSeconds(90)));
                var leader = await cluster.LeaderOfAsync(HalfhourCluster.ConsumptionStream);
                frozen = cluster.Nats.Nodes.First(n => n.IsRunning && n.Name != leader);
                await frozen.PauseAsync();
                output.WriteLine($"froze {frozen.Name} before round 2");
            }
            else if (round == 3 && frozen is not null)
            {
                await frozen.ResumeAsync();
            }
        });

        Assert.Equal([2], skipped);
    }

    /// <summary>
    /// Runs up to <paramref name="rounds"/> rounds on <paramref name="cluster"/> while senders send and webhooks receive, then
    /// drains and checks every copy owed was delivered, once per transaction ID, and that each round resumed in time.
    /// A round is skipped (said in the output) when the NATS replicas have not caught up before it: nats-server 2.9.10's
    /// catch-up can stall for good, and a leader killed then is a double fault, not the single one R3 survives. Whatever
    /// the rounds did — skipped, or failed — the run ends with the delivery audit, and an audit failure fails the test.
    /// </summary>
    /// <param name="cluster">The cluster, started.</param>
    /// <param name="output">Where the rounds, the figures and the audit are written.</param>
    /// <param name="rounds">How many rounds at most.</param>
    /// <param name="budget">The run's time: rounds start only in its first 60%.</param>
    /// <param name="beforeRound">Run before each round's wait for caught-up replicas, with the round's number (a fault of the test's own).</param>
    /// <returns>The rounds skipped for replicas behind.</returns>
    internal static async Task<IReadOnlyList<int>> RunAsync(HalfhourCluster cluster, ITestOutputHelper output, int rounds, TimeSpan budget, Func<int, Task>? beforeRound = null)
    {
        var clock = Stopwatch.StartNew();
        var market = cluster.Market;
        var ledger = new DeliveryLedger(market);
        using var stopSending = new CancellationTokenSource();

        // Two lanes per data service: lane 0 sends to node A first, lane 1 to node B; an unanswered batch goes to the other node.
        var traffic = new TrafficGate();
        var senders = market.Roster.DataServices.SelectMany(dipId => Enumerable.Range(0, 2).Select(lane => Task.Run(() =>
            ServerCrashTests.SendAsync(market, ledger, dipId, lane, stopSending.Token,
                attempt => (attempt + lane) % 2 == 0 ? market.Sender(dipId).Client : cluster.ClientsOfB[dipId], traffic.WaitAsync)))).ToList();

        var report = new List<string>();
        var resumes = new List<double>();
        var attempted = 0;
        var skipped = new List<int>();
        var reading = new InboxReadingTally(cluster);
        ExceptionDispatchInfo? roundFailure = null;
        await using var api = await JetStreamApiCount.StartAsync(cluster.Nats.Urls);
        try
        {
            try
            {
                for (var round = 1; round <= rounds && clock.Elapsed < budget * 0.6; round++)
                {
                    attempted++;
                    if (beforeRound is not null)
                    {
                        await beforeRound(round);
                    }

                    // One fault at a time, as R3 is built to survive: the NATS node restarted last round has caught up (every
                    // stream's replicas current) before the next leader dies; otherwise a stream whose third replica is still
                    // behind loses its quorum and waits for the catch-up, which is a double failure, not a failover.
                    // Senders pause meanwhile: nats-server 2.9.10's catch-up of a busy stream can stall for good ("Catchup for stream
                    // … stalled" every 10 s) while the stream keeps growing; deliveries go on.
                    traffic.Pause();
                    IReadOnlyList<ReplicaLag> lagging;
                    try
                    {
                        lagging = await cluster.WaitReplicasCurrentAsync(TimeSpan.FromSeconds(90));
                    }
                    finally
                    {
                        traffic.Resume();
                    }

                    if (lagging.Count > 0)
                    {
                        skipped.Add(round);
                        report.Add(string.Create(CultureInfo.InvariantCulture,
                            $"round {round}: SKIPPED at {DateTime.UtcNow:HH:mm:ss.fff}, replicas not caught up (a leader kill now would be a double fault; nats-server 2.9.10's catch-up can stall for good): {string.Join("; ", lagging.Take(6))}"));
                        output.WriteLine(report[^1]);
                        continue;
                    }

                    await RoundAsync(cluster, ledger, reading, round, report, resumes);
                    output.WriteLine(report[^1]);
                }
            }
            catch (Exception e)
            {
                // The audit still runs: what was accepted before the failure must all be delivered.
                roundFailure = ExceptionDispatchInfo.Capture(e);
                output.WriteLine($"ROUNDS STOPPED: {e.Message}");
                output.WriteLine($"node A's last output:\n{cluster.NodeA.RecentOutput}\nnode B's last output:\n{cluster.NodeB.RecentOutput}");
                foreach (var natsNode in cluster.Nats.Nodes)
                {
                    output.WriteLine($"nats-server {natsNode.Name}'s last output:\n{natsNode.RecentOutput}");
                }
            }

            await StartStoppedAsync(cluster, output);
            await stopSending.CancelAsync();
            await Task.WhenAll(senders);

            // Drain: every accepted message reaches each of its recipients. A backlog still shrinking is waited for (up to
            // DrainLimit): this test asks whether anything is lost, and a slow machine's catch-up after a long resume is not
            // a loss (CI once ran out of a fixed 60 s with deliveries still flowing); one that stops shrinking for
            // DrainStall is one.
            var drain = Stopwatch.StartNew();
            var progressAt = TimeSpan.Zero;
            for (var left = Missing(cluster, ledger).Count; left > 0 && drain.Elapsed < DrainLimit && drain.Elapsed - progressAt < DrainStall;)
            {
                await Task.Delay(250);
                if (Missing(cluster, ledger).Count is var now && now < left)
                {
                    (left, progressAt) = (now, drain.Elapsed);
                }
            }

            foreach (var (recipient, receiver) in cluster.Receivers)
            {
                foreach (var received in receiver.Taken)
                {
                    ledger.Delivered(recipient, received.TransactionId, received.Reference);
                }
            }

            var missing = ledger.Missing();
            var copies = cluster.Receivers.Sum(r => r.Value.Taken.Count);
            output.WriteLine(string.Join('\n', report.Concat(cluster.CatchUpNotes)));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"resume after each round (s): {string.Join(", ", resumes.Select(r => r.ToString("F1", CultureInfo.InvariantCulture)))}; longest {resumes.DefaultIfEmpty().Max():F1}; {skipped.Count} of {attempted} rounds skipped{(skipped.Count > 0 ? $" ({string.Join(", ", skipped)})" : "")}"));
            output.WriteLine(await reading.ReportAsync());
            output.WriteLine($"audit: {ledger.Accepted.Count} messages accepted ({ledger.Duplicates} answered as duplicates, {ledger.Unanswered} requests unanswered and sent again), " +
                $"{copies} copies pushed for {OwedCopies(cluster, ledger).Count()} owed, {missing.Count} missing, {ledger.Violations.Count} violations, in {clock.Elapsed.TotalSeconds:N0} s (the last {drain.Elapsed.TotalSeconds:N0} s draining after the senders stopped)");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"JetStream API requests seen: {api.ConsumerCreates} consumer creates ({api.ConsumerCreates / clock.Elapsed.TotalSeconds:F1}/s; {api.InboxConsumerCreates} on inboxes), {api.MessageGets} message gets ({api.MessageGets / clock.Elapsed.TotalSeconds:F0}/s)"));
            output.WriteLine(await cluster.AuditInboxesAsync(OwedCopies(cluster, ledger)));
            if (missing.Count > 0)
            {
                output.WriteLine(await cluster.ExplainMissingAsync(MissingCopies(cluster, ledger).Take(60)));
            }

            // The audit first: a copy owed and never delivered, or two transaction IDs for a message, fails whatever the rounds did.
            Assert.True(ledger.Accepted.Count > 100, $"too little was accepted to test anything: {ledger.Accepted.Count}");
            Assert.Empty(ledger.Violations.Take(10));
            Assert.True(missing.Count == 0, $"{missing.Count} accepted copies never delivered (or deliveries no answer confirmed), e.g. {string.Join("; ", missing.Take(5))}");
            Assert.All(cluster.Receivers.Values, r => Assert.Equal(0, r.BadSignatures));
            roundFailure?.Throw();
            Assert.True(attempted >= Math.Min(rounds, 3), $"only {attempted} rounds fitted in the budget");
            Assert.True(resumes.Count > 0, $"no round ran: every one was skipped for replicas behind ({string.Join("; ", report)})");
            Assert.True(resumes.TrueForAll(r => r <= ResumeBound.TotalSeconds), $"deliveries resumed after more than {ResumeBound.TotalSeconds} s: {string.Join("; ", report)}");
            return skipped;
        }
        catch (Exception e)
        {
            output.WriteLine($"FAILED: {e.Message}");
            output.WriteLine(string.Join('\n', report.Concat(cluster.CatchUpNotes)));
            throw;
        }
        finally
        {
            await stopSending.CancelAsync();
            await StartStoppedAsync(cluster, output); // leave the cluster running for the class's other tests
        }
    }

    /// <summary>
    /// One round: kills the consumption stream's NATS leader, then a broker node (A in odd rounds, B in even), waits for every
    /// recipient's deliveries to resume, and starts both again; adds the round's line to <paramref name="report"/>.
    /// </summary>
    private static async Task RoundAsync(HalfhourCluster cluster, DeliveryLedger ledger, InboxReadingTally reading, int round, List<string> report, List<double> resumes)
    {
        await Task.Delay(TimeSpan.FromSeconds(round == 1 ? 4 : 1.5)); // traffic flowing through both nodes first
        var leader = await cluster.LeaderOfAsync(HalfhourCluster.ConsumptionStream);
        var leaderNode = cluster.Nats.Node(leader);
        var leaderKilledAt = DateTime.UtcNow;
        await leaderNode.KillAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));

        var (name, node, survivor) = round % 2 == 1 ? ("A", cluster.NodeA, cluster.NodeB) : ("B", cluster.NodeB, cluster.NodeA);
        var before = cluster.Receivers.ToDictionary(r => r.Key, r => r.Value.Taken.Count);
        var postsBefore = cluster.Receivers.ToDictionary(r => r.Key, r => r.Value.Attempts);
        var acceptedBefore = ledger.Accepted.Count;
        await reading.EndLifeAsync(name, node); // its counters die with it
        await node.KillAsync();
        var killedAt = Stopwatch.StartNew();
        var nodeKilledAt = DateTime.UtcNow;

        // Every recipient's deliveries resume: those whose lease the dead node held are taken over.
        var resumedAfter = new Dictionary<string, TimeSpan>();
        while (cluster.Receivers.Any(r => r.Value.Taken.Count <= before[r.Key] + 1) && killedAt.Elapsed < ResumeWait)
        {
            await Task.Delay(100);
            foreach (var (recipient, _) in cluster.Receivers.Where(r => r.Value.Taken.Count > before[r.Key] + 1 && !resumedAfter.ContainsKey(r.Key)))
            {
                resumedAfter[recipient] = killedAt.Elapsed;
            }
        }

        var last = resumedAfter.OrderBy(r => r.Value).LastOrDefault();

        var resumed = killedAt.Elapsed;
        resumes.Add(resumed.TotalSeconds);
        var stalled = cluster.Receivers.Where(r => r.Value.Taken.Count <= before[r.Key] + 1).Select(r => r.Key).ToList();
        Assert.True(stalled.Count == 0, $"round {round}: deliveries to {string.Join(", ", stalled.Select(r =>
            $"{r} (taken {before[r]} before, {cluster.Receivers[r].Taken.Count} now; POSTs {postsBefore[r]} before, {cluster.Receivers[r].Attempts} now)"))} " +
            $"did not resume within {ResumeWait} of killing node {name} at {nodeKilledAt:HH:mm:ss.fff} (NATS leader {leader} also down); accepted {acceptedBefore} before, {ledger.Accepted.Count} now");
        report.Add(string.Create(CultureInfo.InvariantCulture,
            $"round {round}: killed stream leader {leader} at {leaderKilledAt:HH:mm:ss.fff}, then node {name}; every recipient received again after {resumed.TotalSeconds:F1} s (the last, {last.Key}, at {nodeKilledAt + last.Value:HH:mm:ss.fff})"));
        if (resumed > SlowResume)
        {
            // What the surviving node met meanwhile (its last lines of output): a slow resume nears the bound on a slow machine.
            report[^1] += $"\n  slow: the surviving node's last output:\n{survivor.RecentOutput}";
        }

        await leaderNode.StartAsync(waitHealthy: false); // it catches up in the background; the other two serve meanwhile
        await node.StartAsync();
    }

    /// <summary>Starts every NATS node and broker node that is down (after a round that failed part-way), saying so when one cannot be.</summary>
    private static async Task StartStoppedAsync(HalfhourCluster cluster, ITestOutputHelper output)
    {
        try
        {
            foreach (var natsNode in cluster.Nats.Nodes.Where(n => !n.IsRunning))
            {
                await natsNode.StartAsync(waitHealthy: false);
            }

            foreach (var node in (ServerProcess[])[cluster.NodeA, cluster.NodeB])
            {
                if (!node.IsRunning)
                {
                    await node.StartAsync();
                }
            }
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            output.WriteLine($"restarting a node failed: {e.Message}");
        }
    }

    /// <summary>
    /// Each broker node's <see cref="InboxReadFigures"/> over the run: a node's counters live as long as its process, so each
    /// life is read just before the node is killed (what it counted in its last moments is lost) and at the end.
    /// </summary>
    private sealed class InboxReadingTally(HalfhourCluster cluster)
    {
        private readonly Dictionary<string, InboxReadFigures> _ended = [];
        private readonly Dictionary<string, int> _unread = [];

        /// <summary>Reads <paramref name="node"/>'s figures before it is killed and adds them to its past lives'.</summary>
        public async Task EndLifeAsync(string name, ServerProcess node)
        {
            if (await cluster.InboxReadingAsync(node) is { } figures)
            {
                _ended[name] = _ended.GetValueOrDefault(name, InboxReadFigures.None) + figures;
            }
            else
            {
                _unread[name] = _unread.GetValueOrDefault(name) + 1;
            }
        }

        /// <summary>One line per node: its re-reads, leases handed out again and pointers passed over by cause, over all its lives.</summary>
        public async Task<string> ReportAsync()
        {
            var lines = new List<string>();
            foreach (var (name, node) in ((string, ServerProcess)[])[("A", cluster.NodeA), ("B", cluster.NodeB)])
            {
                var now = await cluster.InboxReadingAsync(node);
                var f = _ended.GetValueOrDefault(name, InboxReadFigures.None) + (now ?? InboxReadFigures.None);
                lines.Add($"node {name} inbox reading: {f.InboxRereads} inbox re-reads, {f.LeasesHandedOutAgain} leases handed out again after a re-read, " +
                    $"{f.PassedOver} pointers passed over ({f.PassedOverMissing} missing, {f.PassedOverOtherMpan} other MPAN, " +
                    $"{f.PassedOverOtherMessage} other message of the same MPAN)" +
                    (now is null || _unread.ContainsKey(name) ? $"; {_unread.GetValueOrDefault(name) + (now is null ? 1 : 0)} of its lives could not be read" : ""));
            }

            return string.Join('\n', lines);
        }
    }

    /// <summary>Holds senders before their next batch while paused.</summary>
    private sealed class TrafficGate
    {
        private volatile TaskCompletionSource _open = Opened();

        public Task WaitAsync(CancellationToken cancellationToken) => _open.Task.WaitAsync(cancellationToken);

        public void Pause() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Resume() => _open.TrySetResult();

        private static TaskCompletionSource Opened()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }
    }

    /// <summary>Copies owed and not yet pushed (recipient, transaction ID).</summary>
    private static List<string> Missing(HalfhourCluster cluster, DeliveryLedger ledger) => [.. MissingCopies(cluster, ledger).Select(m => $"{m.TransactionId} to {m.Recipient}")];

    private static IEnumerable<(string Recipient, string TransactionId)> OwedCopies(HalfhourCluster cluster, DeliveryLedger ledger)
        => ledger.Accepted.Values.SelectMany(a => cluster.Market.RecipientsOf(a.Number).Select(r => (r, a.TransactionId)));

    private static IEnumerable<(string Recipient, string TransactionId)> MissingCopies(HalfhourCluster cluster, DeliveryLedger ledger)
    {
        var taken = cluster.Receivers.SelectMany(r => r.Value.Taken.Select(t => (r.Key, t.TransactionId))).ToHashSet();
        foreach (var (_, (transactionId, number)) in ledger.Accepted)
        {
            foreach (var recipient in cluster.Market.RecipientsOf(number).Where(recipient => !taken.Contains((recipient, transactionId))))
            {
                yield return (recipient, transactionId);
            }
        }
    }
}

/// <summary>
/// The default run of the failover scenario, three times, each on a fresh cluster with one round: on nats-server
/// 2.9.10 a replica restarted after one round can stay behind for good (its catch-up of the busy IF-021 stream
/// "stalled", seen in about half the runs of three rounds on one cluster, even with the senders paused and after
/// restarting it), and a second round's leader kill is then a double fault, not the single one R3 is built for. The
/// soak (<see cref="ClusterFailoverTests"/>) still runs many rounds on one cluster, waiting for catch-up between them.
/// </summary>
[Collection(FailoverCollection.Name)]
public sealed class ClusterFailoverRoundTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Killing_the_stream_leader_and_a_broker_node_loses_no_acknowledged_message_and_delivery_resumes_within_seconds(int run)
    {
        output.WriteLine($"run {run} of 3, on a cluster of its own");
        var cluster = new HalfhourCluster();
        try
        {
            await cluster.InitializeAsync();
            await ClusterFailoverTests.RunAsync(cluster, output, rounds: 1, budget: TimeSpan.FromSeconds(150));
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }
}

/// <summary>
/// The failover tests run alone, after the others: nats-server 2.9.10's catch-up of a restarted replica stalls for good
/// now and then when the machine is loaded (two cores shared with the rest of the suite), and a round must start from
/// a caught-up cluster.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FailoverCollection
{
    public const string Name = "Cluster failover";
}
