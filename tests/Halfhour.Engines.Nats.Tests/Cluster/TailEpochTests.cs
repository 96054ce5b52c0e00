using Halfhour.Broker.Storage;
using Halfhour.Engines.Nats.Tests.Servers;
using NATS.Client.Core;

namespace Halfhour.Engines.Nats.Tests.Cluster;

/// <summary>
/// A topic's tail epoch (<see cref="IEventStore.TailEpoch"/>) moves when its stream gets a new leader, which on
/// nats-server 2.9 may number the last records differently: the broker's tail followers read back when it does.
/// </summary>
public sealed class TailEpochTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    [Fact]
    public async Task A_new_stream_leader_moves_the_tail_epoch_of_its_topic_and_not_of_the_others()
    {
        await using var store = await JetStreamEventStore.ConnectAsync(fixture.NewStoreOptions());
        await store.EnsureTopicAsync(new TopicSpec("DEV.IF-021", 2));
        await store.EnsureTopicAsync(new TopicSpec("DEV.IF-036", 2));
        // Each new R3 stream elects its first leader: those advisories come first.
        var settle = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((store.TailEpoch("DEV.IF-021") == 0 || store.TailEpoch("DEV.IF-036") == 0) && DateTime.UtcNow < settle)
        {
            await Task.Delay(50);
        }

        var before = (store.TailEpoch("DEV.IF-021"), store.TailEpoch("DEV.IF-036"));
        Assert.True(before.Item1 > 0 && before.Item2 > 0, "the streams' first leader elections were not heard of");

        // An operator's (or an election's) change of leader: the leader steps down, another replica is elected.
        await using var admin = new NatsConnection(new NatsOpts { Url = fixture.Cluster.Urls[0] });
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (store.TailEpoch("DEV.IF-021") == before.Item1 && DateTime.UtcNow < until)
        {
            await admin.RequestAsync<byte[], byte[]>("$JS.API.STREAM.LEADER.STEPDOWN." + store.StreamOf("DEV.IF-021"), []);
            await Task.Delay(1000);
        }

        Assert.NotEqual(before.Item1, store.TailEpoch("DEV.IF-021"));
        Assert.Equal(before.Item2, store.TailEpoch("DEV.IF-036"));
    }
}
