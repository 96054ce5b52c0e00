using System.Collections.Concurrent;
using NATS.Client.Core;

namespace Halfhour.Engines.Nats.Streams;

/// <summary>
/// Counts the stream leader elections a connection hears of (the server's <c>$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED</c>
/// advisories), per stream, plus every reconnect: an election while the connection was down goes unheard, so a
/// reconnect counts as a change of every stream. Readers that follow a stream's tail compare the count before and
/// after and read back over the recent records when it moved (see <c>IEventStore.TailEpoch</c>).
/// </summary>
internal sealed class LeaderChanges : IAsyncDisposable
{
    private const string Advisories = "$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.";

    private readonly NatsConnection _connection;
    private readonly ConcurrentDictionary<string, long> _elections = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _listening;
    private long _reconnects;

    /// <summary>Starts listening on <paramref name="connection"/>.</summary>
    public LeaderChanges(NatsConnection connection)
    {
        _connection = connection;
        connection.ConnectionOpened += OnOpenedAsync;
        _listening = Task.Run(() => ListenAsync(_stop.Token));
    }

    /// <summary>How many leader changes of <paramref name="stream"/> (and reconnects) were seen so far.</summary>
    public long Of(string stream) => Interlocked.Read(ref _reconnects) + _elections.GetValueOrDefault(stream);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _connection.ConnectionOpened -= OnOpenedAsync;
        await _stop.CancelAsync();
        try
        {
            await _listening;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private ValueTask OnOpenedAsync(object? sender, NatsEventArgs args)
    {
        Interlocked.Increment(ref _reconnects);
        return ValueTask.CompletedTask;
    }

    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        await foreach (var advisory in _connection.SubscribeAsync<byte[]>(Advisories + "*", cancellationToken: cancellationToken))
        {
            _elections.AddOrUpdate(advisory.Subject[Advisories.Length..], 1, (_, count) => count + 1);
        }
    }
}
