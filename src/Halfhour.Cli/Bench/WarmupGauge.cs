using Halfhour.Client.Transport;

namespace Halfhour.Cli.Bench;

/// <summary>
/// Tells when a run's warm-up has brought the server and the load generator to their steady state: when compiling
/// (tiered compilation compiles a hot method up to three times, the middle one instrumented and slower) takes a
/// negligible share of each process's CPU. A profile of <c>bench dip</c> after 30,000 messages found the server's
/// background compiler using 15% of its CPU and most hot methods still instrumented: measured from there, the server's
/// CPU per message was half as much again as after 150,000.
/// </summary>
internal sealed class WarmupGauge(OperatorClient operatorApi)
{
    /// <summary>Messages of one further warm-up round, published while either process is still compiling.</summary>
    public const long RoundMessages = 10_000;

    /// <summary>The most further rounds: a run whose compiling never settles is measured anyway, and says so.</summary>
    public const int MaxRounds = 30;

    /// <summary>Settled: compiling took at most this share of each process's CPU over the last round.</summary>
    public const double SettledShare = 0.02;

    private RuntimeFigures? _server;
    private RuntimeFigures? _self;
    private bool _serverUnreadable;

    /// <summary>The share of the server's and of this process's CPU spent compiling since the previous mark (NaN at the first, or when unreadable).</summary>
    public async Task<(double Server, double Self)> MarkAsync(CancellationToken cancellationToken)
    {
        var self = RuntimeFigures.OfThisProcess();
        RuntimeFigures? server = null;
        if (!_serverUnreadable)
        {
            try
            {
                server = await operatorApi.RuntimeAsync(cancellationToken);
            }
            catch (HttpRequestException ex)
            {
                Unreadable(ex.Message);
            }

            if (server is { JitCompiledMethods: 0 })
            {
                server = null; // a running .NET process has compiled methods: a backbone that reports none predates the figure
                Unreadable("it reports no compiling figures");
            }
        }

        var shares = (Share(_server, server), Share(_self, self));
        (_server, _self) = (server, self);
        return shares;
    }

    private void Unreadable(string why)
    {
        _serverUnreadable = true;
        Console.Error.WriteLine($"bench dip load: the backbone's compiling figures could not be read ({why}); the warm-up watches only the load generator.");
    }

    /// <summary>Whether the server's figures could be read (a backbone without the operator endpoint is watched from this side only).</summary>
    public bool ServerReadable => !_serverUnreadable;

    /// <summary>
    /// Whether both shares are at most <see cref="SettledShare"/>; the server's may be unknown (NaN) only when its
    /// figures cannot be read at all. An unknown share of this process's is never settled.
    /// </summary>
    public static bool Settled((double Server, double Self) shares, bool serverReadable)
        => (shares.Server <= SettledShare || (!serverReadable && double.IsNaN(shares.Server))) && shares.Self <= SettledShare;

    /// <summary>The share of CPU spent compiling between two readings of one process; NaN without both or without CPU used.</summary>
    public static double Share(RuntimeFigures? before, RuntimeFigures? after)
        => before is null || after is null || after.ProcessCpuSeconds <= before.ProcessCpuSeconds
            ? double.NaN
            : (after.JitSeconds - before.JitSeconds) / (after.ProcessCpuSeconds - before.ProcessCpuSeconds);
}
