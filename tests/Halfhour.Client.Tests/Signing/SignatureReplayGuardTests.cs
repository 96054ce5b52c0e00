using Halfhour.Client.Signing;

namespace Halfhour.Client.Tests.Signing;

public class SignatureReplayGuardTests
{
    private readonly ManualClock _clock = new(new DateTimeOffset(2026, 11, 27, 8, 0, 0, TimeSpan.Zero));

    private static byte[] Signature(int n) => BitConverter.GetBytes(n);

    [Fact]
    public void A_signature_is_fresh_once_and_a_replay_afterwards_within_the_retention()
    {
        var guard = new SignatureReplayGuard(new ReplayGuardOptions { Retention = TimeSpan.FromMinutes(5) }, _clock);

        Assert.Equal(ReplayCheck.Fresh, guard.TryRecord(Signature(1), _clock.Now));
        _clock.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(ReplayCheck.Replayed, guard.TryRecord(Signature(1), _clock.Now.AddMinutes(-4)));
        Assert.Equal(ReplayCheck.Fresh, guard.TryRecord(Signature(2), _clock.Now));
    }

    [Fact]
    public void Signatures_are_forgotten_once_their_date_has_left_the_retention_so_memory_stays_bounded()
    {
        var options = new ReplayGuardOptions { Retention = TimeSpan.FromMinutes(5), BucketWidth = TimeSpan.FromSeconds(10) };
        var guard = new SignatureReplayGuard(options, _clock);
        for (var i = 0; i < 100; i++) guard.TryRecord(Signature(i), _clock.Now);

        _clock.Advance(TimeSpan.FromMinutes(5) + options.BucketWidth);
        guard.TryRecord(Signature(1000), _clock.Now);

        Assert.Equal(1, guard.Count);
    }

    [Fact]
    public void A_full_guard_refuses_to_record_rather_than_forget_early()
    {
        var guard = new SignatureReplayGuard(new ReplayGuardOptions { MaxEntries = 3 }, _clock);
        for (var i = 0; i < 3; i++) Assert.Equal(ReplayCheck.Fresh, guard.TryRecord(Signature(i), _clock.Now));

        Assert.Equal(ReplayCheck.Saturated, guard.TryRecord(Signature(3), _clock.Now));
        Assert.Equal(ReplayCheck.Replayed, guard.TryRecord(Signature(0), _clock.Now));
        Assert.Equal(3, guard.Count);
    }

    [Fact]
    public void Concurrent_recording_of_one_signature_lets_exactly_one_through()
    {
        var guard = new SignatureReplayGuard(clock: _clock);
        var fresh = 0;

        Parallel.For(0, 64, _ =>
        {
            if (guard.TryRecord(Signature(7), _clock.Now) == ReplayCheck.Fresh) Interlocked.Increment(ref fresh);
        });

        Assert.Equal(1, fresh);
    }
}
