using System.Globalization;
using Halfhour.Broker.Messages;
using Halfhour.Market.Appointments;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Participants;
using Halfhour.Market.Routing;
using Halfhour.Market.Validation;
using Halfhour.Simulator.Traffic;

namespace Halfhour.Simulator.Conformance;

/// <summary>
/// Who should receive each message, worked out on the simulator's side from the market's own rules: the catalogue's
/// receiving roles, the <see cref="Router"/>'s policy and an <see cref="AppointmentBook"/> kept from the registration
/// messages the simulator sent, in the order it sent them. It shares the rules with the backbone but none of its state,
/// so a backbone that routed from a wrong book, lost an appointment or mis-addressed a message disagrees with it.
/// The router reads appointments as of a day; the model routes each message as of the day the backbone accepted it
/// (the date in its transaction ID), so a run across midnight UTC is judged by the day each message was routed on.
/// Not thread-safe: the simulator routes a phase, then applies its registrations, as the backbone does per batch.
/// </summary>
public sealed class RoutingModel
{
    private readonly AppointmentBook _book = new();
    private readonly Router _router;
    private readonly MarketEnvironment _environment;
    private readonly MessageFacts _facts = new();
    private readonly RoutedRecipients _recipients = new();
    private readonly List<AppointmentChange> _scratch = [];
    private readonly RoutingDay _day = new();

    /// <summary>A model over the environment's directory (the simulated participants and any others the backbone has there).</summary>
    public RoutingModel(IParticipantDirectory directory, MarketEnvironment environment)
    {
        _router = new Router(directory, _ => _book, time: _day);
        _environment = environment;
    }

    /// <summary>The day in a transaction ID (<c>T-IF-021-…-yyyyMMdd-…</c>): the UTC day the backbone accepted, and routed, the message.</summary>
    public static DateOnly DayOf(string transactionId)
    {
        ArgumentNullException.ThrowIfNull(transactionId);
        // T-{interface}-{sender}-{role}-{yyyyMMdd}-{partition and offset}: the date is the second field from the end.
        var end = transactionId.LastIndexOf('-');
        var start = end > 0 ? transactionId.LastIndexOf('-', end - 1) : -1;
        if (start < 0 || !DateOnly.TryParseExact(transactionId.AsSpan(start + 1, end - start - 1), "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
        {
            throw new FormatException($"'{transactionId}' is not a transaction ID with the day it was accepted.");
        }

        return day;
    }

    /// <summary>
    /// Where the backbone stored a message, read from its transaction ID (<see cref="TransactionId"/>): the partition (an
    /// MPAN's messages share one) and the offset in it, so the messages of one MPAN and channel sort in the order they were stored.
    /// </summary>
    public static (int Partition, long Offset) StorageOrderOf(string transactionId) =>
        TransactionId.TryParse(transactionId, out _, out var partition, out var offset)
            ? (partition, offset)
            : throw new FormatException($"'{transactionId}' is not a transaction ID with the partition and offset it was stored at.");

    /// <summary>The recipients of a message routed on <paramref name="day"/> as the rules say; a message the rules refuse is the simulator's error.</summary>
    public string[] Recipients(PlannedMessage message, DateOnly day)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!InterfaceCatalogue.Specification.TryGet(message.Channel, out var definition))
        {
            throw new InvalidOperationException($"{message.Channel} is not in the catalogue.");
        }

        _facts.Reset();
        _facts.InterfaceId = message.Channel;
        _facts.EventCode = "[" + message.EventCode + "]";
        _facts.SenderDipId = message.SenderDipId;
        _facts.Mpan = message.Mpan == 0 ? null : message.Mpan.ToString(CultureInfo.InvariantCulture);
        _facts.DistributorDipId = message.DistributorDipId;
        _facts.PrimaryRecipients.AddRange(message.Primary);
        _day.Day = day;
        var verdict = _router.Route(definition, _facts, _environment, _recipients);
        if (!verdict.IsValid)
        {
            throw new InvalidOperationException($"The simulator planned a message the rules refuse: {message.Channel} from {message.SenderDipId}: {verdict}");
        }

        return [.. _recipients.Primary, .. _recipients.Secondary, .. _recipients.Always];
    }

    /// <summary>Applies an accepted registration message to the model's appointment book.</summary>
    public void Apply(PlannedMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _book.ApplyMessage(message.Bytes, _scratch);
    }

    /// <summary>The clock the router reads "today" from, set to the day being routed.</summary>
    private sealed class RoutingDay : TimeProvider
    {
        public DateOnly Day { get; set; }

        public override DateTimeOffset GetUtcNow() => new(Day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
    }
}
