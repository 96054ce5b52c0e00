using Halfhour.Market.Appointments;

namespace Halfhour.Market.Tests.Appointments;

public class AppointmentInterfacesTests
{
    [Fact]
    public void The_interfaces_the_broker_watches_are_exactly_those_a_change_is_read_from()
        => Assert.Equal(AppointmentMessages.Sources.Select(s => s.InterfaceId).ToHashSet(), AppointmentMessages.Interfaces);
}
