using Halfhour.Broker.Delivery;
using Halfhour.Broker.Messages;

namespace Halfhour.Broker.Tests.Delivery;

public class StampedMessageCacheTests
{
    private static StampedMessage Message(int bytes) => new("T-1", "1200000000001", new byte[bytes]);

    [Fact]
    public void An_entry_leaves_when_the_last_of_its_recipients_has_taken_it()
    {
        var cache = new StampedMessageCache(1 << 20);
        cache.Add("DEV.IF-021", 0, 7, Message(100), takers: 3);

        for (var taker = 0; taker < 3; taker++)
        {
            Assert.True(cache.TryGet("DEV.IF-021", 0, 7, out var message));
            Assert.Equal(100, message.Bytes.Length);
        }

        Assert.False(cache.TryGet("DEV.IF-021", 0, 7, out _)); // a fourth reader (a redelivery) reads the store
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void Entries_of_unknown_takers_stay_until_the_capacity_pushes_the_oldest_out()
    {
        var cache = new StampedMessageCache(250);
        cache.Add("DEV.IF-021", 0, 1, Message(100));
        cache.Add("DEV.IF-021", 0, 2, Message(100));
        Assert.True(cache.TryGet("DEV.IF-021", 0, 1, out _));
        Assert.True(cache.TryGet("DEV.IF-021", 0, 1, out _));

        cache.Add("DEV.IF-021", 0, 3, Message(100)); // 300 bytes: the oldest leaves
        Assert.False(cache.TryGet("DEV.IF-021", 0, 1, out _));
        Assert.True(cache.TryGet("DEV.IF-021", 0, 2, out _));
        Assert.True(cache.TryGet("DEV.IF-021", 0, 3, out _));
    }

    [Fact]
    public void Entries_taken_by_all_free_their_bytes_so_later_ones_are_not_evicted_early()
    {
        var cache = new StampedMessageCache(250);
        for (var offset = 0; offset < 1_000; offset++)
        {
            cache.Add("DEV.IF-021", 1, offset, Message(100), takers: 2);
            Assert.True(cache.TryGet("DEV.IF-021", 1, offset, out _));
            Assert.True(cache.TryGet("DEV.IF-021", 1, offset, out _));
        }

        Assert.Equal(0, cache.Count);

        // Two entries fit; both stay, as nothing taken before holds their room.
        cache.Add("DEV.IF-021", 1, 1_000, Message(100), takers: 1);
        cache.Add("DEV.IF-021", 1, 1_001, Message(100), takers: 1);
        Assert.Equal(2, cache.Count);
        Assert.True(cache.TryGet("DEV.IF-021", 1, 1_000, out _));
        Assert.True(cache.TryGet("DEV.IF-021", 1, 1_001, out _));
    }

    [Fact]
    public void An_entry_taken_by_all_does_not_push_an_older_one_out()
    {
        var cache = new StampedMessageCache(250);
        cache.Add("DEV.IF-021", 2, 1, Message(100));            // takers unknown: stays
        cache.Add("DEV.IF-021", 2, 2, Message(100), takers: 1);
        Assert.True(cache.TryGet("DEV.IF-021", 2, 2, out _));    // its one recipient took it: its room is free

        cache.Add("DEV.IF-021", 2, 3, Message(100));             // 200 bytes held: nothing needs to leave
        Assert.True(cache.TryGet("DEV.IF-021", 2, 1, out _));
        Assert.True(cache.TryGet("DEV.IF-021", 2, 3, out _));
    }

    [Fact]
    public void A_copy_evicted_before_all_its_recipients_took_it_is_kept_again_only_for_those_still_to_come()
    {
        var cache = new StampedMessageCache(250);
        cache.Add("DEV.IF-021", 3, 1, Message(100), takers: 3);
        Assert.True(cache.TryGet("DEV.IF-021", 3, 1, out _));   // the first recipient keeps up
        cache.Add("DEV.IF-021", 3, 2, Message(100), takers: 3);
        cache.Add("DEV.IF-021", 3, 3, Message(100), takers: 3); // 300 bytes: the oldest leaves, two of its recipients still to come

        Assert.False(cache.TryGet("DEV.IF-021", 3, 1, out _));  // the second stamps it again from the store...
        cache.Restore("DEV.IF-021", 3, 1, Message(100), takers: 3);
        Assert.True(cache.TryGet("DEV.IF-021", 3, 1, out _));   // ...and keeps it for the third alone
        Assert.False(cache.TryGet("DEV.IF-021", 3, 1, out _));  // not for the first again: its room is free
    }

    [Fact]
    public void A_copy_never_cached_is_kept_for_the_other_recipients_of_its_message()
    {
        var cache = new StampedMessageCache(1 << 20);
        cache.Restore("DEV.IF-021", 4, 9, Message(100), takers: 3); // read after a restart by the first of three

        Assert.True(cache.TryGet("DEV.IF-021", 4, 9, out _));
        Assert.True(cache.TryGet("DEV.IF-021", 4, 9, out _));
        Assert.False(cache.TryGet("DEV.IF-021", 4, 9, out _));
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void A_recipient_restoring_a_copy_another_has_just_restored_counts_as_having_taken_it()
    {
        var cache = new StampedMessageCache(1 << 20);
        cache.Restore("DEV.IF-021", 5, 2, Message(100), takers: 3); // kept for two more
        cache.Restore("DEV.IF-021", 5, 2, Message(100), takers: 3); // the second missed at the same moment: one more

        Assert.True(cache.TryGet("DEV.IF-021", 5, 2, out _));
        Assert.False(cache.TryGet("DEV.IF-021", 5, 2, out _));
    }

    [Fact]
    public void A_copy_a_single_recipient_restores_is_not_kept()
    {
        var cache = new StampedMessageCache(1 << 20);
        cache.Restore("DEV.IF-021", 6, 1, Message(100), takers: 1);

        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void A_message_is_taken_once_by_each_of_its_recipients_however_many_tiers_name_one()
    {
        static StoredMessage Routed(string[] primary, string[] secondary, string[] always) => new()
        {
            InterfaceId = "IF-021", EventCode = "ActivePower", AcceptedAt = DateTimeOffset.UnixEpoch, SenderDipId = "1000000001",
            SenderRole = "SDS", SenderUniqueReference = "r-1", Primary = primary, Secondary = secondary, Always = always, Body = new byte[2],
        };

        // The supplier is a primary recipient and also appointed to the MPAN; the LDSO is named twice in one tier.
        Assert.Equal(4, StampedMessageCache.TakersOf(Routed(["SUP"], ["SUP", "LDSO", "LDSO"], ["LSS", "MDS", "LSS"])));
        Assert.Equal(1, StampedMessageCache.TakersOf(Routed(["SUP"], [], [])));
        Assert.Equal(1, StampedMessageCache.TakersOf(Routed([], [], []))); // nobody named: kept for one reader all the same
    }

    [Fact]
    public void A_cache_of_no_capacity_keeps_nothing()
    {
        var cache = new StampedMessageCache(0);
        cache.Add("DEV.IF-021", 0, 1, Message(10), takers: 1);
        Assert.False(cache.TryGet("DEV.IF-021", 0, 1, out _));
    }
}
