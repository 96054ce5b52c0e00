using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Halfhour.Broker.Delivery;
using Halfhour.Client.Transport;
using Halfhour.Engines.Nats;
using Halfhour.Engines.Nats.Local;
using Halfhour.Server.Tests.Backbone;
using Halfhour.Server.Tests.Crash;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Halfhour.Server.Tests.Cluster;

/// <summary>
/// Two <c>halfhour serve --engine nats</c> processes (real HTTPS, mutual TLS, DIP signatures) in front of a 3-node
/// nats-server cluster on loopback, R3; the crash test's market enrolled through node A (node B sees it through the
/// shared registry), and a signature-checking webhook receiver per recipient, registered through both nodes.
/// Node B's data directory starts with a copy of node A's sandbox: the nodes of a deployment share its credentials.
/// </summary>
public sealed class HalfhourCluster : IAsyncLifetime
{
    private readonly string _dataA = Path.Combine(Path.GetTempPath(), "halfhour-node-a-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _dataB = Path.Combine(Path.GetTempPath(), "halfhour-node-b-" + Guid.NewGuid().ToString("N")[..8]);

    public NatsCluster Nats { get; private set; } = null!;
    public ServerProcess NodeA { get; private set; } = null!;
    public ServerProcess NodeB { get; private set; } = null!;
    public CrashMarket Market { get; private set; } = null!;

    /// <summary>Each participant's client to node B (their <see cref="CrashParticipant.Client"/> talks to node A).</summary>
    public Dictionary<string, HttpClient> ClientsOfB { get; } = [];

    /// <summary>The webhook receiver of each recipient.</summary>
    public Dictionary<string, WebhookReceiver> Receivers { get; } = [];

    /// <summary>The stream of the IF-021 topic (prefix HH).</summary>
    public static string ConsumptionStream => "HH_DEV_IF-021";

    public async Task InitializeAsync()
    {
        Nats = await NatsCluster.StartAsync("halfhour-serve");
        string[] arguments =
        [
            "--engine", "nats", "--nats-url", string.Join(',', Nats.Urls), "--nats-replicas", "3",
            "--Halfhour:Backbone:WebhookInitialBackoff=00:00:00.200", "--Halfhour:Backbone:WebhookMaxBackoff=00:00:02",
        ];
        NodeA = new ServerProcess(_dataA, arguments);
        await NodeA.StartAsync();
        BackboneServer.CopyDirectory(NodeA.SandboxDirectory, Path.Combine(_dataB, "sandbox"));
        NodeB = new ServerProcess(_dataB, arguments);
        await NodeB.StartAsync();

        Market = await CrashMarket.EnrolAsync(NodeA);
        foreach (var participant in Market.Participants)
        {
            ClientsOfB[participant.DipId] = CrashMarket.ConnectTo(NodeB, participant);
        }

        using var backbone = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(NodeA.SandboxDirectory, "backbone.pem")));
        var k = 0;
        foreach (var recipient in Market.Recipients)
        {
            var receiver = await WebhookReceiver.StartAsync(backbone);
            Receivers[recipient.DipId] = receiver;
            // Half the webhooks are registered through each node: each node must learn the other's.
            var client = k++ % 2 == 0 ? recipient.Client : ClientsOfB[recipient.DipId];
            var config = new { callbackURL = receiver.Url.ToString(), maxMessageCount = 50, maxPayloadSize = 1000 };
            using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(config)) { Headers = { ContentType = new("application/json") } };
            await WithRetriesAsync(async () =>
            {
                // The participants were enrolled through node A: node B knows them within a second.
                using var response = await client.PostAsync($"dip-channel/IF-021/pubconfig/{recipient.DipId}", content);
                return response.IsSuccessStatusCode ? null : $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
            });
        }
    }

    /// <summary>Runs <paramref name="attempt"/> until it returns null (success), for up to ten seconds; fails with its last answer.</summary>
    public static async Task WithRetriesAsync(Func<Task<string?>> attempt)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var failure = await attempt();
            if (failure is null)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(200);
        }
    }

    /// <summary>The server_name of the node leading <paramref name="stream"/> now.</summary>
    public async Task<string> LeaderOfAsync(string stream)
    {
        await using var connection = new NatsConnection(new JetStreamStoreOptions { Urls = [.. Nats.Nodes.Where(n => n.IsRunning).Select(n => n.Url)] }.ToNatsOpts());
        var info = await new NatsJSContext(connection).GetStreamAsync(stream);
        return info.Info.Cluster?.Leader ?? throw new InvalidOperationException($"{stream} has no leader.");
    }

    /// <summary>
    /// Waits until every stream (topics, inboxes, buckets) has all its replicas current, so the next fault is a single
    /// one: a NATS node restarted a moment ago may still be catching up. (Its <c>/healthz</c> also waits for consumers,
    /// and a killed server's in-memory reader consumers stay assigned until reaped, which can take longer than a round.)
    /// Returns what is still behind when the wait ends (empty: every replica caught up): nats-server 2.9.10's catch-up of a
    /// replica can stall for good, a defect of the engine the caller works around (it skips a fault it cannot inject singly).
    /// </summary>
    public async Task<IReadOnlyList<ReplicaLag>> WaitReplicasCurrentAsync(TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var behind = new List<ReplicaLag>();
            try
            {
                await using var connection = new NatsConnection(new JetStreamStoreOptions { Urls = [.. Nats.Nodes.Where(n => n.IsRunning).Select(n => n.Url)] }.ToNatsOpts());
                await foreach (var stream in new NatsJSContext(connection).ListStreamsAsync())
                {
                    var name = stream.Info.Config.Name!;
                    if (stream.Info.Cluster is not { Leader: not null } peers)
                    {
                        behind.Add(new ReplicaLag("(none)", name, "has no leader"));
                        continue;
                    }

                    behind.AddRange((peers.Replicas ?? []).Where(r => !r.Current || r.Offline)
                        .Select(r => new ReplicaLag(r.Name, name, r.Offline ? "offline" : $"not current, {r.Lag} records behind")));
                }
            }
            catch (NatsException e)
            {
                behind.Add(new ReplicaLag("(cluster)", "(every stream)", $"not listed: {e.Message}"));
            }

            if (behind.Count == 0)
            {
                return await WaitCaughtUpAsync(TimeSpan.FromSeconds(60));
            }

            if (DateTime.UtcNow >= until)
            {
                return behind;
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Notes of what the cluster's catch-up waits did beyond waiting (restarts of a stalled replica), for the test's output.</summary>
    public List<string> CatchUpNotes { get; } = [];

    /// <summary>
    /// How far behind the leader a replica may stay: a stalled catch-up is hundreds of records behind and growing, while
    /// 2.9.10 has been seen to leave a replica 2 records short of its leader, for good, with nothing being written (the
    /// leader's last records of a failover that the others do not have); that replica is as good as current.
    /// </summary>
    private const ulong CatchUpSlack = 16;

    /// <summary>
    /// Waits until every running node's own copy of every stream holds what the stream's leader held when the wait began,
    /// within <see cref="CatchUpSlack"/> (each node's <c>/jsz</c>): nats-server 2.9 reports a restarted replica current while its catch-up is
    /// stalled ("Catchup for stream … stalled"), and killing the leader then leaves no up-to-date quorum — a double fault.
    /// A node still behind after half the time is restarted once (as an operator would), which starts its catch-up anew.
    /// Returns what is still behind when <paramref name="timeout"/> has passed (empty: every replica caught up).
    /// </summary>
    private async Task<IReadOnlyList<ReplicaLag>> WaitCaughtUpAsync(TimeSpan timeout)
    {
        var targets = new Dictionary<string, ulong>(StringComparer.Ordinal);
        await using (var connection = new NatsConnection(new JetStreamStoreOptions { Urls = [.. Nats.Nodes.Where(n => n.IsRunning).Select(n => n.Url)] }.ToNatsOpts()))
        {
            await foreach (var stream in new NatsJSContext(connection).ListStreamsAsync())
            {
                targets[stream.Info.Config.Name!] = stream.Info.State.LastSeq;
            }
        }

        var started = DateTime.UtcNow;
        var restarted = false;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            var behind = new List<(NatsServerProcess Node, string Stream, ulong Has, ulong Wanted)>();
            foreach (var node in Nats.Nodes.Where(n => n.IsRunning))
            {
                var held = new Dictionary<string, ulong>(StringComparer.Ordinal);
                try
                {
                    var jsz = JsonNode.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{node.MonitorPort}/jsz?accounts=true&streams=true")))!;
                    foreach (var stream in jsz["account_details"]?.AsArray().SelectMany(a => a!["stream_detail"]?.AsArray() ?? []) ?? [])
                    {
                        held[(string)stream!["name"]!] = (ulong)stream["state"]!["last_seq"]!;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
                {
                    behind.Add((node, "(no /jsz answer)", 0, 0));
                    continue;
                }

                behind.AddRange(targets.Where(t => held.GetValueOrDefault(t.Key) + CatchUpSlack < t.Value).Select(t => (node, t.Key, held.GetValueOrDefault(t.Key), t.Value)));
            }

            if (behind.Count == 0)
            {
                return [];
            }

            var waited = DateTime.UtcNow - started;
            if (!restarted && waited > timeout / 2)
            {
                restarted = true;
                foreach (var node in behind.Select(b => b.Node).Distinct())
                {
                    CatchUpNotes.Add($"{node.Name} had not caught up after {waited.TotalSeconds:F0} s ({string.Join(", ", behind.Where(b => b.Node == node).Take(3).Select(b => $"{b.Stream} at {b.Has} of {b.Wanted}"))}): restarted");
                    await node.KillAsync();
                    await node.StartAsync(waitHealthy: false);
                }
            }

            if (waited > timeout)
            {
                return [.. behind.Select(b => new ReplicaLag(b.Node.Name, b.Stream, $"at {b.Has} of {b.Wanted} ({b.Wanted - b.Has} behind) after {waited.TotalSeconds:F0} s"))];
            }

            await Task.Delay(250);
        }
    }

    /// <summary>
    /// A broker node's <see cref="InboxReadFigures"/> now (<c>GET /operator/inbox-reading</c>); null when it does not answer
    /// (killed, starting) or its backbone is not up yet.
    /// </summary>
    public async Task<InboxReadFigures?> InboxReadingAsync(ServerProcess node)
    {
        var operatorKey = (await File.ReadAllTextAsync(Path.Combine(node.SandboxDirectory, "operator-api-key.txt"))).Trim();
        using var client = CrashMarket.ConnectTo(node, Market.Participants[0]);
        client.Timeout = TimeSpan.FromSeconds(2); // read just before a kill: a slow answer must not delay the fault
        using var request = new HttpRequestMessage(HttpMethod.Get, "operator/inbox-reading") { Headers = { { OperatorClient.KeyHeader, operatorKey } } };
        try
        {
            using var response = await client.SendAsync(request);
            return response.IsSuccessStatusCode ? JsonSerializer.Deserialize<InboxReadFigures>(await response.Content.ReadAsStringAsync(), JsonSerializerOptions.Web) : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Says, for copies owed and never delivered, where the recipient's inbox points to each message (inbox offset, when
    /// written) and the highest offset of the message's partition pointed to before each of those pointers, and the
    /// recipient's cursors: whether a pointer was never written, or written and passed over by the reader.
    /// </summary>
    public async Task<string> ExplainMissingAsync(IEnumerable<(string Recipient, string TransactionId)> missing)
    {
        var text = new StringBuilder();
        await using var store = await JetStreamEventStore.ConnectAsync(new JetStreamStoreOptions { Urls = [.. Nats.Nodes.Where(n => n.IsRunning).Select(n => n.Url)] });
        foreach (var byRecipient in missing.GroupBy(m => m.Recipient))
        {
            var inbox = $"DEV.inbox.{byRecipient.Key}.IF-021";
            var pointers = new List<(long InboxOffset, DateTimeOffset Time, int Partition, long Offset)>();
            for (long next = 0; ;)
            {
                using var batch = await store.ReadAsync(inbox, 0, next, 1 << 20);
                if (batch.Events.Count == 0) break;
                foreach (var e in batch.Events)
                {
                    var p = Halfhour.Broker.Delivery.InboxPointer.Read(e.Value.Span);
                    pointers.Add((e.Offset, e.Timestamp, p.Partition, p.Offset));
                }

                next = batch.NextOffset;
            }

            text.AppendLine($"{byRecipient.Key}: inbox holds {pointers.Count} pointers; cursors: " +
                string.Join(", ", (await store.GetCursorsAsync($"sub.{byRecipient.Key}.IF-021")).Select(c => $"{c.Topic}/{c.Partition}={c.Offset}")));
            foreach (var (_, transactionId) in byRecipient)
            {
                Halfhour.Broker.Messages.TransactionId.TryParse(transactionId, out _, out var partition, out var offset);
                text.Append($"  {transactionId}:");
                var high = -1L;
                var highAt = -1L;
                var found = false;
                foreach (var q in pointers)
                {
                    if (q.Partition != partition) continue;
                    if (q.Offset == offset)
                    {
                        found = true;
                        text.Append($" at inbox {q.InboxOffset} ({q.Time:HH:mm:ss.fff}, after {partition}@{high} at inbox {highAt})");
                    }

                    if (q.Offset > high)
                    {
                        (high, highAt) = (q.Offset, q.InboxOffset);
                    }
                }

                text.AppendLine(found ? "" : " no pointer in the inbox");
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// Reads every recipient's inbox as it ends and says, of the copies owed, how many have no pointer at all (the
    /// indexers never wrote one) and how many a reader that passes over any pointer not above the highest offset of its
    /// partition met so far would never hand out (every pointer to them comes after a later message of their partition).
    /// </summary>
    public async Task<string> AuditInboxesAsync(IEnumerable<(string Recipient, string TransactionId)> owed)
    {
        var text = new StringBuilder();
        var (pointers, owedCopies, withoutPointer, onlyAfterLater) = (0, 0, 0, 0);
        await using var store = await JetStreamEventStore.ConnectAsync(new JetStreamStoreOptions { Urls = [.. Nats.Nodes.Where(n => n.IsRunning).Select(n => n.Url)] });
        foreach (var byRecipient in owed.GroupBy(m => m.Recipient))
        {
            var pointed = new HashSet<(int, long)>();
            var handed = new HashSet<(int, long)>();
            var high = new Dictionary<int, long>();
            var count = 0;
            for (long next = 0; ;)
            {
                using var batch = await store.ReadAsync($"DEV.inbox.{byRecipient.Key}.IF-021", 0, next, 1 << 20);
                if (batch.Events.Count == 0) break;
                foreach (var e in batch.Events)
                {
                    var p = Halfhour.Broker.Delivery.InboxPointer.Read(e.Value.Span);
                    count++;
                    pointed.Add((p.Partition, p.Offset));
                    if (!high.TryGetValue(p.Partition, out var h) || p.Offset > h)
                    {
                        high[p.Partition] = p.Offset;
                        handed.Add((p.Partition, p.Offset));
                    }
                }

                next = batch.NextOffset;
            }

            var copies = byRecipient.Select(m =>
            {
                Halfhour.Broker.Messages.TransactionId.TryParse(m.TransactionId, out _, out var partition, out var offset);
                return (partition, offset);
            }).ToList();
            var unpointed = copies.Where(c => !pointed.Contains(c)).ToList();
            var passedOver = copies.Where(c => pointed.Contains(c) && !handed.Contains(c)).ToList();
            (pointers, owedCopies, withoutPointer, onlyAfterLater) = (pointers + count, owedCopies + copies.Count, withoutPointer + unpointed.Count, onlyAfterLater + passedOver.Count);
            if (unpointed.Count + passedOver.Count > 0)
            {
                text.AppendLine($"  {byRecipient.Key}: {unpointed.Count} with no pointer ({string.Join(", ", unpointed.Take(3).Select(c => $"{c.partition}@{c.offset}"))}), " +
                    $"{passedOver.Count} pointed to only after a later offset of their partition ({string.Join(", ", passedOver.Take(5).Select(c => $"{c.partition}@{c.offset}"))})");
            }
        }

        return $"inboxes: {pointers} pointers, {owedCopies} copies owed, {withoutPointer} with no pointer, {onlyAfterLater} pointed to only after a later offset of their partition\n{text}";
    }

    /// <summary>A DIP array of the generated consumption messages.</summary>
    public byte[] Batch(IEnumerable<long> numbers) =>
        Encoding.UTF8.GetBytes("[" + string.Join(",", numbers.Select(n => Encoding.UTF8.GetString(Market.Builder.Build(n)))) + "]");

    public static ByteArrayContent Json(byte[] body) => new(body) { Headers = { ContentType = new("application/json") } };

    public async Task DisposeAsync()
    {
        foreach (var receiver in Receivers.Values) await receiver.DisposeAsync();
        foreach (var client in ClientsOfB.Values) client.Dispose();
        Market?.Dispose();
        NodeA?.Dispose();
        NodeB?.Dispose();
        if (Nats is not null) await Nats.DisposeAsync();
        foreach (var directory in (string[])[_dataA, _dataB])
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>A stream's replica behind its leader when a wait for catch-up ended: which NATS node, which stream, how far.</summary>
/// <param name="Node">The nats-server's name (n1…n3).</param>
/// <param name="Stream">The stream.</param>
/// <param name="Behind">How far behind, as found.</param>
public sealed record ReplicaLag(string Node, string Stream, string Behind)
{
    /// <inheritdoc />
    public override string ToString() => $"{Node} {Stream} {Behind}";
}
