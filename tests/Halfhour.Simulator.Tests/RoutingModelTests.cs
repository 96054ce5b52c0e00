using Halfhour.Market.Participants;
using Halfhour.Simulator.Conformance;
using Halfhour.Simulator.Population;
using Halfhour.Simulator.Traffic;

namespace Halfhour.Simulator.Tests;

/// <summary>The simulator's expected routing is worked out as of the day the backbone accepted each message, as the router does.</summary>
public sealed class RoutingModelTests
{
    private static readonly DateOnly Today = new(2026, 11, 27);

    [Fact]
    public void The_day_a_message_was_routed_on_is_read_from_its_transaction_id()
    {
        Assert.Equal(new DateOnly(2026, 11, 28), RoutingModel.DayOf("T-IF-021-2000000001-SDS-20261128-0030000000000042"));
        Assert.Throws<FormatException>(() => RoutingModel.DayOf("T-IF-021-not-one"));
    }

    [Fact]
    public void A_message_accepted_after_midnight_is_expected_at_the_supplier_of_the_new_day()
    {
        var population = new MarketPopulation(new PopulationOptions { Suppliers = 3, DataServices = 1, MeteringServices = 1, RegistrationServices = 1 }, MarketEnvironment.DEV);
        var traffic = new MarketTraffic(population, mpans: 40, run: 1, Today);
        var model = new RoutingModel(population.Directory, MarketEnvironment.DEV);
        foreach (var message in traffic.Registrations().Concat(traffic.Appointments()).Concat(traffic.ChangesOfSupplier())) model.Apply(message);
        // An MPAN whose supplier changes from tomorrow: its consumption sent late today and accepted just after midnight.
        var consumption = traffic.Consumption(day: 0, days: 1).First(m => MarketTraffic.ChangesSupplier(m.Mpan));
        var (outgoing, incoming) = (population.SupplierOf(consumption.Mpan), population.IncomingSupplierOf(consumption.Mpan));

        var routedToday = model.Recipients(consumption, Today);
        var routedAfterMidnight = model.Recipients(consumption, RoutingModel.DayOf($"T-IF-021-{consumption.SenderDipId}-SDS-{Today.AddDays(1):yyyyMMdd}-0000000000000001"));

        Assert.Contains(outgoing, routedToday);
        Assert.DoesNotContain(incoming, routedToday);
        Assert.Contains(incoming, routedAfterMidnight); // the appointed supplier as of the day it was routed, not the day it was planned
    }
}
