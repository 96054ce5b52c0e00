using System.Globalization;
using System.Text;
using Halfhour.Broker.Storage;
using Halfhour.Engines.Nats.Local;
using Halfhour.Engines.Nats.Recovery;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Xunit.Abstractions;

namespace Halfhour.Engines.Nats.Tests.Recovery;

/// <summary>
/// Active-passive disaster recovery: a second JetStream (its own domain, joined to the primary by a leaf
/// node connection) mirrors the topic; the primary is killed, the mirror promoted, and the store goes on
/// on the second JetStream with every acknowledged record at its offset.
/// </summary>
public sealed class MirrorPromotionTests(ITestOutputHelper output)
{
    private const string Topic = "DEV.IF-021";

    /// <summary>A mirror follows its origin within milliseconds on loopback; 20 s bounds a loaded machine.</summary>
    private static readonly TimeSpan CatchUpBound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_promoted_mirror_holds_every_acknowledged_record_at_its_offset_and_takes_new_appends()
    {
        var leafPort = FreePorts.Take(1)[0];
        await using var primary = await NatsServerProcess.StartSingleAsync("primary", domain: "primary",
            extraConfig: string.Create(CultureInfo.InvariantCulture, $"leafnodes {{\n  listen: 127.0.0.1:{leafPort}\n}}\n"));
        await using var recovery = await NatsServerProcess.StartSingleAsync("recovery", domain: "recovery",
            extraConfig: string.Create(CultureInfo.InvariantCulture, $"leafnodes {{\n  remotes: [{{ url: \"nats-leaf://127.0.0.1:{leafPort}\" }}]\n}}\n"));
        var id = Guid.NewGuid().ToString("N")[..10];
        var primaryOptions = new JetStreamStoreOptions { Urls = [primary.Url], Replicas = 1, StreamPrefix = "D" + id, SubjectPrefix = "d" + id };
        var recoveryOptions = primaryOptions with { Urls = [recovery.Url] };

        var acknowledged = new List<(string Key, int Partition, long Offset)>();
        await using (var store = await JetStreamEventStore.ConnectAsync(primaryOptions))
        {
            await store.EnsureTopicAsync(new TopicSpec(Topic, 2));
            await AppendGroupsAsync(store, 0, 50, acknowledged);

            await using var connection = new NatsConnection(new NatsOpts { Url = recovery.Url });
            var promotion = new MirrorPromotion(new NatsJSContext(connection), recoveryOptions);
            await promotion.MirrorAsync(Topic, "primary");
            await AppendGroupsAsync(store, 50, 100, acknowledged); // the mirror follows live appends too

            // Cut over once the mirror has caught up: what was in flight when a primary dies may be missing
            // (replication to a mirror is asynchronous), which the README's DR procedure says.
            var until = DateTime.UtcNow + CatchUpBound;
            while ((await promotion.StateAsync(Topic)).Messages < acknowledged.Count)
            {
                Assert.True(DateTime.UtcNow < until, $"the mirror did not catch up with {acknowledged.Count} records within {CatchUpBound}");
                await Task.Delay(100);
            }
        }

        await primary.KillAsync();

        await using (var connection = new NatsConnection(new NatsOpts { Url = recovery.Url }))
        {
            var method = await new MirrorPromotion(new NatsJSContext(connection), recoveryOptions).PromoteAsync(Topic);
            output.WriteLine($"promoted by {method}");
        }

        await using var promoted = await JetStreamEventStore.ConnectAsync(recoveryOptions);
        foreach (var partition in new[] { 0, 1 })
        {
            using var batch = await promoted.ReadAsync(Topic, partition, 0, 1 << 20);
            Assert.Equal(acknowledged.Where(a => a.Partition == partition).Select(a => (a.Key, a.Offset)),
                batch.Events.Select(e => (Encoding.UTF8.GetString(e.Value.Span), e.Offset)));
        }

        var after = new List<(string Key, int Partition, long Offset)>();
        await AppendGroupsAsync(promoted, 100, 101, after);
        Assert.All(after, a => Assert.True(a.Offset > acknowledged.Max(b => b.Offset)));
        using var tail = await promoted.ReadAsync(Topic, 1, after[1].Offset, 1 << 10);
        Assert.Equal(after[1].Key, Encoding.UTF8.GetString(tail.Events[0].Value.Span));
    }

    private static async Task AppendGroupsAsync(JetStreamEventStore store, int from, int to, List<(string Key, int Partition, long Offset)> acknowledged)
    {
        for (var group = from; group < to; group++)
        {
            var writes = new[] { 0, 1 }.Select(p => new EventWrite(Topic, p, default, Encoding.UTF8.GetBytes($"g{group}.p{p}"), $"g{group}.p{p}")).ToArray();
            var offsets = await store.AppendAsync(writes);
            acknowledged.Add(($"g{group}.p0", 0, offsets[0]));
            acknowledged.Add(($"g{group}.p1", 1, offsets[1]));
        }
    }
}
