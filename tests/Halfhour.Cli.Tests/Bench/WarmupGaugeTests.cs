using Halfhour.Cli.Bench;
using Halfhour.Client.Transport;

namespace Halfhour.Cli.Tests.Bench;

public class WarmupGaugeTests
{
    private static RuntimeFigures Reading(double cpuSeconds, double jitSeconds)
        => new(DateTimeOffset.UnixEpoch, cpuSeconds, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, JitCompiledMethods: 0, JitSeconds: jitSeconds);

    [Fact]
    public void The_share_is_the_compiling_time_over_the_CPU_used_between_two_readings()
    {
        Assert.Equal(0.25, WarmupGauge.Share(Reading(10, 2), Reading(14, 3)), 9);
        Assert.Equal(0, WarmupGauge.Share(Reading(10, 2), Reading(14, 2)), 9);
    }

    [Fact]
    public void Without_two_readings_or_without_CPU_used_the_share_is_unknown()
    {
        Assert.True(double.IsNaN(WarmupGauge.Share(null, Reading(14, 3))));
        Assert.True(double.IsNaN(WarmupGauge.Share(Reading(10, 2), null)));
        Assert.True(double.IsNaN(WarmupGauge.Share(Reading(10, 2), Reading(10, 2))));
    }

    [Fact]
    public void Warm_up_settles_only_when_both_processes_compile_little()
    {
        Assert.True(WarmupGauge.Settled((0.01, 0.02), serverReadable: true));
        Assert.False(WarmupGauge.Settled((0.05, 0.01), serverReadable: true));
        Assert.False(WarmupGauge.Settled((0.01, 0.05), serverReadable: true));
    }

    [Fact]
    public void An_unknown_server_share_settles_only_when_the_server_cannot_be_read_and_an_unknown_own_share_never()
    {
        Assert.False(WarmupGauge.Settled((double.NaN, 0.01), serverReadable: true));
        Assert.True(WarmupGauge.Settled((double.NaN, 0.01), serverReadable: false));
        Assert.False(WarmupGauge.Settled((0.01, double.NaN), serverReadable: true));
    }
}
