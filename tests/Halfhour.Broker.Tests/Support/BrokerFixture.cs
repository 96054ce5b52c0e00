using System.Text;
using Halfhour.Broker.Storage;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;
using Microsoft.Extensions.Logging.Abstractions;

namespace Halfhour.Broker.Tests.Support;

/// <summary>
/// A backbone on a real store of the given engine (an embedded log in a temporary directory, or streams
/// of their own on a real nats-server), with the consumption roster as its market.
/// </summary>
public sealed class BrokerFixture : IAsyncDisposable
{
    private BrokerFixture(EngineHome home, ConsumptionRoster roster, ConsumptionMessageBuilder builder, ParticipantDirectory participants)
    {
        Home = home;
        Roster = roster;
        Builder = builder;
        Participants = participants;
    }

    private Func<IEventStore, IEventStore>? _wrap;
    private IEventStore? _wrapped; // the store under a wrapper, which the backbone does not close

    public EngineHome Home { get; }

    public ConsumptionRoster Roster { get; }

    public ConsumptionMessageBuilder Builder { get; }

    public ParticipantDirectory Participants { get; }

    public Backbone Backbone { get; private set; } = null!;

    public static MarketEnvironment Environment => MarketEnvironment.DEV;

    /// <param name="engine">The store's engine.</param>
    /// <param name="options">The backbone's options.</param>
    /// <param name="wrap">Wraps the store the backbone runs on (a test's faults), at every open.</param>
    public static async Task<BrokerFixture> StartAsync(EngineKind engine, BackboneOptions? options = null, Func<IEventStore, IEventStore>? wrap = null)
    {
        var home = await EngineHome.CreateAsync(engine);
        var roster = new ConsumptionRoster(suppliers: 6, dataServices: 4);
        var builder = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { Environment = Environment, MeteringPoints = 5_000, Seed = 7 }, roster);
        var fixture = new BrokerFixture(home, roster, builder, new ParticipantDirectory(roster.Participants(Environment))) { _wrap = wrap };
        await fixture.OpenAsync(options);
        return fixture;
    }

    /// <summary>
    /// Closes the backbone and opens it again on the same directory, as a restart does; <paramref name="whileDown"/>
    /// works on the store in between (e.g. to leave a record the backbone has not yet derived anything from).
    /// </summary>
    public async Task RestartAsync(BackboneOptions? options = null, Func<IEventStore, Task>? whileDown = null)
    {
        await CloseAsync();
        if (whileDown is not null)
        {
            await using var store = await Home.OpenAsync();
            await whileDown(store);
        }

        await OpenAsync(options);
    }

    public Participant Participant(string dipId) => Participants.Find(Environment, dipId) ?? throw new ArgumentException($"No participant {dipId}.", nameof(dipId));

    /// <summary>The data service that sends consumption for MPAN number <paramref name="number"/>.</summary>
    public Participant SenderOf(long number) => Participant(Roster.DataServiceOf(Builder.MpanOf(number)));

    /// <summary>A DIP array of the given generated messages.</summary>
    public byte[] Batch(params long[] numbers)
    {
        var body = new List<byte>();
        body.Add((byte)'[');
        for (var i = 0; i < numbers.Length; i++)
        {
            if (i > 0)
            {
                body.Add((byte)',');
            }

            body.AddRange(Builder.Build(numbers[i]));
        }

        body.Add((byte)']');
        return [.. body];
    }

    public static byte[] Array(params byte[][] messages)
        => Encoding.UTF8.GetBytes("[" + string.Join(",", messages.Select(m => Encoding.UTF8.GetString(m))) + "]");

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        await Home.DisposeAsync();
    }

    private async Task CloseAsync()
    {
        await Backbone.DisposeAsync();
        if (_wrapped is not null)
        {
            await _wrapped.DisposeAsync();
        }
    }

    private async Task OpenAsync(BackboneOptions? options)
    {
        var store = await Home.OpenAsync();
        _wrapped = _wrap is null ? null : store;
        Backbone = await Backbone.StartAsync(_wrap?.Invoke(store) ?? store, options ?? new BackboneOptions(), Participants, NullLoggerFactory.Instance);
    }
}
