using System.Text;
using System.Text.Json.Nodes;
using Halfhour.Broker;
using Halfhour.Broker.Cluster;
using Halfhour.Broker.Messages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;
using Halfhour.Engines.Nats.Tests.Servers;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;
using Microsoft.Extensions.Logging.Abstractions;

namespace Halfhour.Engines.Nats.Tests.Cluster;

/// <summary>
/// What broker nodes sharing one JetStream coordinate through, on a real server: two stores with the same prefix
/// stand for two nodes.
/// </summary>
public sealed class SharedStateTests
{
    private static readonly TimeSpan Window = TimeSpan.FromDays(2);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task A_sender_reference_is_claimed_by_one_node_and_its_transaction_ID_answers_the_other()
    {
        var options = await SharedNatsServer.NewStoreOptionsAsync();
        await using var storeA = await JetStreamEventStore.ConnectAsync(options);
        await using var storeB = await JetStreamEventStore.ConnectAsync(options);
        var a = await storeA.OpenClusterAsync("node-a", Window, Lease);
        var b = await storeB.OpenClusterAsync("node-b", Window, Lease);
        await using var leasesA = a.Leases;
        await using var leasesB = b.Leases;

        Assert.Equal(ReferenceClaimState.Claimed, (await a.Claims.TryClaimAsync("DEV.2000000001.REF-1")).State);
        Assert.Equal(ReferenceClaimState.HeldElsewhere, (await b.Claims.TryClaimAsync("DEV.2000000001.REF-1")).State);

        await a.Claims.CommitAsync("DEV.2000000001.REF-1", "T-IF-021-1");
        Assert.Equal(new ReferenceClaim(ReferenceClaimState.Committed, "T-IF-021-1"), await b.Claims.TryClaimAsync("DEV.2000000001.REF-1"));

        // A released claim (nothing was stored) is free for the next node; odd characters in a reference are fine.
        Assert.Equal(ReferenceClaimState.Claimed, (await a.Claims.TryClaimAsync("DEV.2000000001.REF 2/ü*")).State);
        await a.Claims.ReleaseAsync("DEV.2000000001.REF 2/ü*");
        Assert.Equal(ReferenceClaimState.Claimed, (await b.Claims.TryClaimAsync("DEV.2000000001.REF 2/ü*")).State);
    }

    [Fact]
    public async Task A_claim_of_a_dead_node_is_taken_over_once_its_node_lease_lapses_and_a_nodes_own_leftover_claim_at_once()
    {
        var options = await SharedNatsServer.NewStoreOptionsAsync();
        await using var storeA = await JetStreamEventStore.ConnectAsync(options);
        await using var storeB = await JetStreamEventStore.ConnectAsync(options);
        var a = await storeA.OpenClusterAsync("node-a", Window, Lease);
        var b = await storeB.OpenClusterAsync("node-b", Window, Lease);
        await using var leasesB = b.Leases;

        // A claim whose create was applied but whose answer this node never saw (a timeout, a dropped connection): the
        // same node claiming it again (the sender's retry) takes it at once instead of waiting for it to go stale.
        Assert.Equal(ReferenceClaimState.Claimed, (await a.Claims.TryClaimAsync("DEV.2000000001.REF-OWN")).State);
        var again = await storeA.OpenClusterAsync("node-a", Window, Lease); // the same node, without the first claim's record
        await using (again.Leases)
        {
            Assert.Equal(ReferenceClaimState.Claimed, (await again.Claims.TryClaimAsync("DEV.2000000001.REF-OWN")).State);
        }

        // While node A runs, its claim is its own; once it dies (stops renewing), its node lease lapses and node B takes
        // the claim over within the lease's life, long before KvReferenceClaims.StaleAfter.
        Assert.Equal(ReferenceClaimState.Claimed, (await a.Claims.TryClaimAsync("DEV.2000000001.REF-DEAD")).State);
        Assert.Equal(ReferenceClaimState.HeldElsewhere, (await b.Claims.TryClaimAsync("DEV.2000000001.REF-DEAD")).State);
        await a.Leases.DisposeAsync();
        var until = DateTime.UtcNow + (Lease * 4);
        Assert.True(Lease * 4 < Halfhour.Engines.Nats.Cluster.KvReferenceClaims.StaleAfter);
        while ((await b.Claims.TryClaimAsync("DEV.2000000001.REF-DEAD")).State != ReferenceClaimState.Claimed)
        {
            Assert.True(DateTime.UtcNow < until, "the claim of a node that stopped renewing its lease was not taken over");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task A_lease_is_held_by_one_node_and_taken_over_when_released_or_when_its_holder_stops_renewing()
    {
        var options = await SharedNatsServer.NewStoreOptionsAsync();
        await using var storeA = await JetStreamEventStore.ConnectAsync(options);
        await using var storeB = await JetStreamEventStore.ConnectAsync(options);
        var a = (await storeA.OpenClusterAsync("node-a", Window, Lease)).Leases;
        await using var b = (await storeB.OpenClusterAsync("node-b", Window, Lease)).Leases;

        Assert.True(await a.TryAcquireAsync("delivery.DEV.1000000001.IF-021"));
        Assert.False(await b.TryAcquireAsync("delivery.DEV.1000000001.IF-021"));

        // Renewed in the background: still A's after more than its life.
        await Task.Delay(Lease * 1.5);
        Assert.True(a.Holds("delivery.DEV.1000000001.IF-021"));
        Assert.False(await b.TryAcquireAsync("delivery.DEV.1000000001.IF-021"));

        await a.ReleaseAsync("delivery.DEV.1000000001.IF-021");
        Assert.True(await b.TryAcquireAsync("delivery.DEV.1000000001.IF-021"));

        // A holder that dies (stops renewing) loses its lease within its life.
        Assert.True(await a.TryAcquireAsync("delivery.DEV.1000000002.IF-021"));
        await a.DisposeAsync();
        var until = DateTime.UtcNow + (Lease * 4);
        while (!await b.TryAcquireAsync("delivery.DEV.1000000002.IF-021"))
        {
            Assert.True(DateTime.UtcNow < until, "the lease of a node that stopped renewing was not taken over");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task A_shared_document_is_replaced_only_from_the_revision_its_writer_read()
    {
        var options = await SharedNatsServer.NewStoreOptionsAsync();
        await using var storeA = await JetStreamEventStore.ConnectAsync(options);
        await using var storeB = await JetStreamEventStore.ConnectAsync(options);
        var a = await storeA.OpenDocumentAsync("participants");
        var b = await storeB.OpenDocumentAsync("participants");

        Assert.Equal((null, 0UL), await b.ReadAsync());
        var first = await a.TryReplaceAsync("one"u8.ToArray(), 0);
        Assert.NotNull(first);
        Assert.Null(await b.TryReplaceAsync("two"u8.ToArray(), 0)); // B had not seen A's write
        var (document, revision) = await b.ReadAsync();
        Assert.Equal("one", Encoding.UTF8.GetString(document!));
        Assert.NotNull(await b.TryReplaceAsync("two"u8.ToArray(), revision));
        Assert.Null(await a.TryReplaceAsync("three"u8.ToArray(), first.Value));
    }

    [Fact]
    public async Task A_registration_stored_through_one_node_routes_the_next_message_published_through_another()
    {
        var options = await SharedNatsServer.NewStoreOptionsAsync();
        var roster = new ConsumptionRoster(suppliers: 3, dataServices: 1);
        var builder = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { Environment = MarketEnvironment.DEV, MeteringPoints = 100, Seed = 5 }, roster);
        var directory = new ParticipantDirectory(roster.Participants(MarketEnvironment.DEV));
        await using var nodeA = await StartNodeAsync(options, "node-a", directory);
        await using var nodeB = await StartNodeAsync(options, "node-b", directory);

        var mpan = builder.MpanOf(1);
        var appointed = roster.Suppliers.First(s => s != roster.SupplierOf(mpan));
        var sender = directory.Find(MarketEnvironment.DEV, roster.DataServiceOf(mpan))!;
        var before = await nodeB.Publisher.PublishAsync(sender, "IF-021", Array(builder.Build(1)));
        Assert.True(before.Messages[0].IsAccepted, before.Messages[0].Failure?.ToString());
        Assert.DoesNotContain(appointed, before.Messages[0].Recipients);

        // Node A stores a registration appointing another supplier to the MPAN (as its pipeline stores one).
        var topic = TopicLayout.InterfaceTopic(MarketEnvironment.DEV, "IF-001");
        await nodeA.Store.EnsureTopicAsync(new TopicSpec(topic, nodeA.Backbone.Layout.PartitionsPerInterface));
        var registration = new StoredMessage
        {
            InterfaceId = "IF-001", EventCode = "[InitialRegistration]", AcceptedAt = DateTimeOffset.UtcNow, SenderDipId = "9900000003",
            SenderRole = "REGS", SenderUniqueReference = "registration-1", Mpan = mpan.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Body = Registration(mpan, appointed),
        };
        await nodeA.Store.AppendAsync([new EventWrite(topic, nodeA.Backbone.Layout.PartitionOf(registration.Mpan, registration.SenderDipId), default, registration.ToArray())]);

        // Node B follows the registration topics it learns of, and routes its next message by the new appointment.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (nodeB.Backbone.Appointments.Count(MarketEnvironment.DEV) == 0)
        {
            Assert.True(DateTime.UtcNow < until, "node B never applied the registration stored through node A");
            await Task.Delay(100);
        }

        var after = await nodeB.Publisher.PublishAsync(sender, "IF-021", Array(builder.Build(1 + (100 * 1))));
        Assert.True(after.Messages[0].IsAccepted, after.Messages[0].Failure?.ToString());
        Assert.Contains(appointed, after.Messages[0].Recipients);
    }

    private static byte[] Array(byte[] message) => [(byte)'[', .. message, (byte)']'];

    private static byte[] Registration(long mpan, string supplier) => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["payload"] = new JsonObject
        {
            ["CommonBlock"] = new JsonObject
            {
                ["S0"] = new JsonObject { ["interfaceID"] = "IF-001", ["schemaVersion"] = "011", ["eventCode"] = "[InitialRegistration]" },
                ["M0"] = new JsonObject { ["MPANCore"] = mpan.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            },
            ["CustomBlock"] = new JsonObject
            {
                ["B002"] = new JsonObject { ["incomingSupplierDIPID"] = supplier, ["incomingSupplierMPID"] = "SUPA", ["supplierEffectiveFromDate"] = "2000-01-01T00:00:00+00:00" },
            },
        },
    }.ToJsonString());

    private static async Task<Node> StartNodeAsync(JetStreamStoreOptions options, string name, IParticipantDirectory directory)
    {
        var store = await JetStreamEventStore.ConnectAsync(options);
        var cluster = await store.OpenClusterAsync(name, Window, Lease) with { TopicDiscoveryInterval = TimeSpan.FromMilliseconds(200) };
        var backbone = await Backbone.StartAsync(store, new BackboneOptions { Cluster = cluster }, directory, NullLoggerFactory.Instance);
        return new Node(store, backbone, cluster);
    }

    private sealed record Node(JetStreamEventStore Store, Backbone Backbone, BrokerCluster Cluster) : IAsyncDisposable
    {
        public Broker.Publishing.PublishPipeline Publisher => Backbone.Publisher;

        public async ValueTask DisposeAsync()
        {
            await Cluster.Leases.DisposeAsync();
            await Backbone.DisposeAsync(); // disposes the store
        }
    }
}
