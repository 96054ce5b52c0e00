using Halfhour.Broker.Delivery;

namespace Halfhour.Broker.Tests.Delivery;

public class DeliveryWindowTests
{
    private static Slot Leased(long eventOffset, long visibleAgainAt) => new(0, 1, eventOffset, visibleAgainAt, 1, SlotState.Leased);

    [Fact]
    public void Start_moves_only_past_a_gap_free_prefix_of_acknowledged_records()
    {
        var window = new DeliveryWindow();
        window.Reset(10);
        for (var i = 0; i < 3; i++)
        {
            window.Add(Leased(100 + i, 1_000));
        }

        Assert.True(window.TryGetLeased(11, out var middle));
        window.Set(11, middle with { State = SlotState.Acked });
        Assert.False(window.TryTakeSettled(out _)); // 10 is still leased
        Assert.Equal(10, window.Start);
        Assert.Equal(1, window.Settled);

        Assert.True(window.TryGetLeased(10, out var first));
        window.Set(10, first with { State = SlotState.Acked });
        Assert.True(window.TryTakeSettled(out var taken));
        Assert.Equal(100, taken.EventOffset);
        Assert.True(window.TryTakeSettled(out taken));
        Assert.Equal(101, taken.EventOffset);
        Assert.False(window.TryTakeSettled(out _));
        Assert.Equal(12, window.Start);
        Assert.Equal(13, window.End);
        Assert.Equal(1, window.Leased);
    }

    [Fact]
    public void An_acknowledged_or_unknown_offset_is_not_leased()
    {
        var window = new DeliveryWindow();
        window.Reset(0);
        window.Add(Leased(5, 1_000));
        window.Add(new Slot(-1, 0, 0, 0, 0, SlotState.Skipped));

        Assert.False(window.TryGetLeased(1, out _));  // skipped
        Assert.False(window.TryGetLeased(2, out _));  // not read yet
        Assert.False(window.TryGetLeased(-1, out _)); // before the window
        Assert.True(window.TryGetLeased(0, out var lease));
        window.Set(0, lease with { State = SlotState.Acked });
        Assert.False(window.TryGetLeased(0, out _)); // a second acknowledgement is ignored
    }

    [Fact]
    public void Expired_leases_are_found_oldest_first_up_to_the_maximum_and_the_rest_stay_due()
    {
        var window = new DeliveryWindow();
        window.Reset(0);
        window.Add(Leased(1, 50));
        window.Add(Leased(2, 500));
        window.Add(Leased(3, 60));
        window.Add(Leased(4, 70));

        var expired = new List<long>();
        window.TakeExpired(now: 40, max: 10, expired);
        Assert.Empty(expired);

        window.TakeExpired(now: 100, max: 2, expired);
        Assert.Equal([0, 2], expired);
        Assert.True(window.EarliestExpiry <= 100); // offset 3 expired too and was not taken: still due

        expired.Clear();
        window.TakeExpired(now: 100, max: 10, expired);
        Assert.Equal([0, 2, 3], expired);
        Assert.Equal(500, window.EarliestExpiry);
    }

    [Fact]
    public void The_ring_grows_and_keeps_order_across_its_wrap()
    {
        var window = new DeliveryWindow();
        window.Reset(0);
        long next = 0;
        for (var round = 0; round < 5; round++)
        {
            // Take 40 out, add 100: the ring wraps and grows while records are outstanding.
            for (var i = 0; i < 100; i++)
            {
                window.Add(Leased(next++, 1_000));
            }

            for (var i = 0; i < 40; i++)
            {
                var offset = window.Start;
                Assert.True(window.TryGetLeased(offset, out var lease));
                window.Set(offset, lease with { State = SlotState.Acked });
                Assert.True(window.TryTakeSettled(out var taken));
                Assert.Equal(offset, taken.EventOffset);
            }
        }

        Assert.Equal(200, window.Start);
        Assert.Equal(500, window.End);
        for (var offset = window.Start; offset < window.End; offset++)
        {
            Assert.True(window.TryGetLeased(offset, out var lease));
            Assert.Equal(offset, lease.EventOffset);
        }
    }
}
