using Halfhour.Engines.Nats;

namespace Halfhour.Server.Participants;

/// <summary>
/// Keeps a node's registry current with the shared document other nodes change: reads it again every
/// <see cref="Interval"/> (one small key-value read per node per interval), and owns the store connection the
/// shared registry uses, closing it on stop.
/// </summary>
public sealed partial class RegistryFollower(ParticipantRegistry registry, JetStreamEventStore connection, ILogger<RegistryFollower> log) : BackgroundService
{
    /// <summary>A second: a participant registered through one node can connect through any other a second later; the cost is one read a second.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    if (registry.Refresh())
                    {
                        LogRefreshed(log);
                    }
                }
                catch (IOException e)
                {
                    LogFailed(log, e); // the store is away (a leader election): keep serving the last registry seen
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await connection.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Participant registry changed by another node; reloaded")]
    private static partial void LogRefreshed(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the shared participant registry failed; retrying")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
