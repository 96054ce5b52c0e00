using Halfhour.Market.Appointments;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;
using Halfhour.Market.Routing;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Routing;

public class RouterTests
{
    private static readonly DateOnly Today = new(2025, 1, 16);

    private static readonly InterfaceDefinition Consumption = new()
    {
        InterfaceId = "IF-021",
        Name = "Provide Settlement Period Consumption",
        PublicationId = "PUB-021",
        SendingRoles = [Role.SDS, Role.ADS, Role.UMSDS],
        ReceivingRoles = [Role.LSS, Role.MDS, Role.LDSO, Role.SUP],
        Events = [new EventDefinition { EventCode = "ActivePower", SchemaVersions = ["011"], IsAboutMeteringPoint = true }],
    };

    private static readonly InterfaceDefinition StandingDataNotice = new()
    {
        InterfaceId = "IF-047",
        Name = "Industry Standing Data notice",
        PublicationId = "PUB-047",
        SendingRoles = [Role.ISD],
        ReceivingRoles = Enum.GetValues<Role>(),
        Events = [new EventDefinition { EventCode = "ISDNotice", SchemaVersions = ["011"] }],
    };

    private readonly ConsumptionMessageBuilder _messages = new();
    private readonly InMemoryDirectory _directory;
    private readonly AppointmentBook _book = new();
    private readonly Router _router;

    public RouterTests()
    {
        var roster = _messages.Roster;
        _directory = new InMemoryDirectory([
            .. roster.Participants(MarketEnvironment.PRD),
            .. roster.Participants(MarketEnvironment.SIT).Select(p => p with { DipId = "9" + p.DipId[0] + p.DipId[2..] }),
            new Participant { DipId = "7000000001", Role = Role.ISD, Mpid = "ISDX", Name = "Standing data", Environment = MarketEnvironment.PRD },
            new Participant { DipId = "4000000002", Role = Role.LSS, Mpid = "LSSB", Name = "Second LSS", Environment = MarketEnvironment.PRD },
        ]);
        _router = new Router(_directory, env => env == MarketEnvironment.PRD ? _book : null, time: new FixedTime(Today));
    }

    private (MessageFacts Facts, long Mpan) Consumed(long number)
    {
        var facts = new MessageFacts();
        Assert.True(new ConsumptionValidator().Validate(_messages.Build(number), facts).IsValid);
        return (facts, _messages.MpanOf(number));
    }

    private void Appoint(long mpan, AppointedRole role, string dipId, DateOnly from) =>
        _book.Apply(new AppointmentChange(mpan, AppointmentChangeKind.Appoint, role, dipId, from));

    [Fact]
    public void Consumption_goes_to_the_primary_supplier_the_LDSO_of_the_MPAN_and_every_load_shaping_and_market_data_service()
    {
        var (facts, mpan) = Consumed(1);
        Appoint(mpan, AppointedRole.Supplier, _messages.Roster.SupplierOf(mpan), Today.AddDays(-30));
        var recipients = new RoutedRecipients();

        Assert.True(_router.Route(Consumption, facts, MarketEnvironment.PRD, recipients).IsValid);

        Assert.Equal([_messages.Roster.SupplierOf(mpan)], recipients.Primary);
        Assert.Equal([_messages.Roster.DistributorOf(mpan)], recipients.Secondary);
        Assert.Equal(["4000000001", "4000000002", "5000000001"], recipients.Always.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void The_supplier_appointed_today_is_added_when_the_sender_addressed_another()
    {
        var (facts, mpan) = Consumed(2);
        var appointed = _messages.Roster.Suppliers.First(s => s != _messages.Roster.SupplierOf(mpan));
        Appoint(mpan, AppointedRole.Supplier, _messages.Roster.SupplierOf(mpan), Today.AddDays(-300));
        Appoint(mpan, AppointedRole.Supplier, appointed, Today);
        var recipients = new RoutedRecipients();

        _router.Route(Consumption, facts, MarketEnvironment.PRD, recipients);

        Assert.Contains(appointed, recipients.Secondary);
        Assert.DoesNotContain(_messages.Roster.SupplierOf(mpan), recipients.Secondary);
    }

    [Fact]
    public void A_supplier_appointed_from_tomorrow_does_not_receive_today()
    {
        var (facts, mpan) = Consumed(3);
        facts.PrimaryRecipients.Clear();
        Appoint(mpan, AppointedRole.Supplier, "1000000007", Today.AddDays(1));
        var recipients = new RoutedRecipients();

        _router.Route(Consumption, facts, MarketEnvironment.PRD, recipients);

        Assert.Equal([_messages.Roster.DistributorOf(mpan)], recipients.Secondary);
    }

    [Fact]
    public void Routing_as_of_a_given_day_reads_the_appointments_of_that_day_not_the_clocks()
    {
        // A message accepted just before midnight is routed as of its acceptance day, even if the clock has turned.
        var (facts, mpan) = Consumed(4);
        facts.PrimaryRecipients.Clear();
        var current = _messages.Roster.SupplierOf(mpan);
        var next = _messages.Roster.Suppliers.First(s => s != current);
        Appoint(mpan, AppointedRole.Supplier, current, Today.AddDays(-300));
        Appoint(mpan, AppointedRole.Supplier, next, Today.AddDays(1));

        var tomorrow = new RoutedRecipients();
        _router.Route(Consumption, facts, MarketEnvironment.PRD, tomorrow, Today.AddDays(1));
        Assert.Contains(next, tomorrow.Secondary);
        Assert.DoesNotContain(current, tomorrow.Secondary);

        var today = new RoutedRecipients();
        _router.Route(Consumption, facts, MarketEnvironment.PRD, today, Today);
        Assert.Contains(current, today.Secondary);
        Assert.DoesNotContain(next, today.Secondary);
    }

    [Fact]
    public void An_MPAN_the_book_does_not_know_still_reaches_its_LDSO_and_the_central_services_but_no_supplier_by_guess()
    {
        var (facts, mpan) = Consumed(4);
        facts.PrimaryRecipients.Clear();
        var recipients = new RoutedRecipients();

        _router.Route(Consumption, facts, MarketEnvironment.PRD, recipients);

        Assert.Equal([_messages.Roster.DistributorOf(mpan)], recipients.Secondary);
        Assert.Equal(3, recipients.Always.Count);
        Assert.Empty(recipients.Primary);
    }

    [Fact]
    public void A_standing_data_notice_reaches_every_participant_of_the_environment_but_its_sender()
    {
        var facts = new MessageFacts { SenderDipId = "7000000001" };
        var recipients = new RoutedRecipients();

        _router.Route(StandingDataNotice, facts, MarketEnvironment.PRD, recipients);

        var expected = _directory.All.Where(p => p.Environment == MarketEnvironment.PRD && p.DipId != "7000000001").Select(p => p.DipId).Order(StringComparer.Ordinal);
        Assert.Equal(expected, recipients.Always.Order(StringComparer.Ordinal));
        Assert.Empty(recipients.Secondary);
    }

    [Theory]
    [InlineData("1999999999", "not a participant")]
    [InlineData("9100000001", "not a participant in PRD")]
    [InlineData("2000000003", "does not receive IF-021")]
    public void A_primary_recipient_that_cannot_receive_the_interface_is_refused_with_its_position(string recipient, string reason)
    {
        var (facts, _) = Consumed(5);
        facts.PrimaryRecipients.Add(recipient);

        var result = _router.Route(Consumption, facts, MarketEnvironment.PRD, new RoutedRecipients());

        Assert.Equal((MessageCode.InvalidRecipient, "/payload/CommonBlock/A0/primaryRecipients/1"), (result.Code, result.Pointer));
        Assert.Contains(reason, result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_recipient_is_listed_once_and_never_the_sender()
    {
        var (facts, mpan) = Consumed(6);
        facts.PrimaryRecipients.Add(facts.PrimaryRecipients[0]);
        facts.PrimaryRecipients.Add("4000000001");
        facts.PrimaryRecipients.Add(_messages.Roster.DistributorOf(mpan));
        var recipients = new RoutedRecipients();

        _router.Route(Consumption, facts, MarketEnvironment.PRD, recipients);

        var all = recipients.Primary.Concat(recipients.Secondary).Concat(recipients.Always).ToList();
        Assert.Equal(all.Distinct().Count(), all.Count);
        Assert.DoesNotContain(facts.SenderDipId, all);
        Assert.Equal(3, recipients.Primary.Count);
        Assert.Empty(recipients.Secondary);
    }

    [Fact]
    public void Routing_a_message_allocates_nothing_once_warm()
    {
        var (facts, mpan) = Consumed(7);
        Appoint(mpan, AppointedRole.Supplier, _messages.Roster.SupplierOf(mpan ^ 3), Today);
        var recipients = new RoutedRecipients();
        _router.Route(Consumption, facts, MarketEnvironment.PRD, recipients);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            _router.Route(Consumption, facts, MarketEnvironment.PRD, recipients);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(6, recipients.Count);
    }

    private sealed class FixedTime(DateOnly day) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(day.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero);
    }

    private sealed class InMemoryDirectory(IReadOnlyList<Participant> all) : IParticipantDirectory
    {
        private readonly Dictionary<(MarketEnvironment, string), Participant> _byId = all.ToDictionary(p => (p.Environment, p.DipId));
        private readonly Dictionary<(MarketEnvironment, Role), List<Participant>> _byRole =
            all.GroupBy(p => (p.Environment, p.Role)).ToDictionary(g => g.Key, g => g.ToList());

        public IReadOnlyList<Participant> All => all;

        public Participant? Find(MarketEnvironment environment, string dipId) => _byId.GetValueOrDefault((environment, dipId));

        public IReadOnlyList<Participant> InRole(MarketEnvironment environment, Role role) =>
            _byRole.TryGetValue((environment, role), out var list) ? list : [];
    }
}
