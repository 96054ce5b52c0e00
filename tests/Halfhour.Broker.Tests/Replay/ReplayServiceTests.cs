using Halfhour.Broker.Messages;
using Halfhour.Broker.Replay;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Tests.Support;
using Halfhour.Market.Catalogue;
using static Halfhour.Broker.Tests.Support.PointedMessages;

namespace Halfhour.Broker.Tests.Replay;

/// <summary>
/// What a replay of a recipient's inbox returns when the inbox's pointers do not all name what their place holds: after a
/// nats-server 2.9 leader change a place can hold another message, perhaps another party's. A replay returns only the
/// messages the pointers name and that are routed to the recipient, as a subscription hands out only those.
/// </summary>
public abstract class ReplayServiceTests(EngineKind engine)
{
    private static readonly ReplayQuery Everything = new(null, null, null, null, null);

    [Fact]
    public async Task A_pointer_whose_place_holds_another_message_of_the_same_MPAN_is_not_replayed()
    {
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(store, 3);
        var fingerprints = await FingerprintsAsync(store, offsets);
        // The middle pointer names the message the indexer read (fingerprint f0) at a place that now holds another one.
        await WritePointersAsync(store, offsets, fingerprints: [fingerprints[0], fingerprints[0], fingerprints[2]]);

        var replayed = await ReplayAllAsync(store);

        Assert.Equal([offsets[0], offsets[2]], replayed);
    }

    [Fact]
    public async Task A_pointer_whose_place_holds_a_message_of_another_MPAN_is_not_replayed()
    {
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(store, 2);
        await WritePointersAsync(store, offsets, mpans: [Mpan, "1999999999999"]);

        var replayed = await ReplayAllAsync(store);

        Assert.Equal([offsets[0]], replayed);
    }

    [Fact]
    public async Task A_pointer_whose_place_holds_a_message_routed_to_another_party_is_not_replayed_to_the_recipient()
    {
        // Same MPAN, fingerprint matching what is there (an indexer that read the renumbered place): only the routing tells.
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var ours = await StoreMessagesAsync(store, 1);
        var theirs = await StoreMessagesAsync(store, 1, routedTo: "1000000077", firstReference: 1);
        await WritePointersAsync(store, [ours[0], theirs[0]]);

        var replayed = await ReplayAllAsync(store);

        Assert.Equal([ours[0]], replayed);
    }

    [Fact]
    public async Task Pointers_without_a_fingerprint_as_inboxes_stored_before_it_hold_are_still_replayed()
    {
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(store, 2);
        await WriteFirstFormatPointersAsync(store, offsets);

        var replayed = await ReplayAllAsync(store);

        Assert.Equal(offsets, replayed);
    }

    [Fact]
    public async Task A_message_pointed_to_only_after_a_later_message_is_still_replayed_and_each_message_once_in_a_page()
    {
        // Indexer A has no pointer to the middle message; indexer B, behind, points to all three after A's.
        await using var home = await EngineHome.CreateAsync(engine);
        await using var store = await home.OpenAsync();
        var offsets = await StoreMessagesAsync(store, 3);
        await WritePointersAsync(store, [offsets[0], offsets[2], /* B: */ offsets[0], offsets[1], offsets[2]]);

        var replayed = await ReplayAllAsync(store, pageSize: 10);

        Assert.Equal([offsets[0], offsets[2], offsets[1]], replayed);
    }

    /// <summary>Every page of the recipient's IF-021 replay, as the event offsets of the messages returned.</summary>
    private static async Task<List<long>> ReplayAllAsync(IEventStore store, int pageSize = 2)
    {
        var replays = new ReplayService(store, InterfaceCatalogue.Specification);
        var offsets = new List<long>();
        string? token = null;
        do
        {
            var page = await replays.ReplayAsync(TestEnvironment, Recipient, "IF-021", Everything, token, pageSize, CancellationToken.None);
            foreach (var (transactionId, _) in page.Identities)
            {
                Assert.True(TransactionId.TryParse(transactionId, out _, out _, out var offset));
                offsets.Add(offset);
            }

            token = page.ContinuationToken;
        }
        while (token is not null);

        return offsets;
    }
}

public sealed class ReplayServiceTestsOnEmbedded() : ReplayServiceTests(EngineKind.Embedded);

public sealed class ReplayServiceTestsOnJetStream() : ReplayServiceTests(EngineKind.JetStream);
