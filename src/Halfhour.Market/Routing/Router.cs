using System.Globalization;
using Halfhour.Market.Appointments;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Participants;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Routing;

/// <summary>
/// Decides who receives an accepted message: the sender's primary recipients (each checked to exist in the
/// environment and hold a receiving role of the interface) plus the recipients the catalogue and the
/// <see cref="RoutingPolicy"/> add — the LDSO and the appointed supplier and services of the message's MPAN (from the
/// <see cref="AppointmentBook"/> of the environment, as of today) and every participant of the central receiving
/// roles. No LINQ and no allocation per message beyond what the directory returns.
/// </summary>
public sealed class Router
{
    private readonly IParticipantDirectory _directory;
    private readonly Func<MarketEnvironment, AppointmentBook?> _appointments;
    private readonly RoutingPolicy _policy;
    private readonly TimeProvider _time;

    /// <summary>Creates a router over a directory and the appointment book of each environment.</summary>
    public Router(IParticipantDirectory directory, Func<MarketEnvironment, AppointmentBook?> appointments, RoutingPolicy? policy = null, TimeProvider? time = null)
    {
        _directory = directory ?? throw new ArgumentNullException(nameof(directory));
        _appointments = appointments ?? throw new ArgumentNullException(nameof(appointments));
        _policy = policy ?? RoutingPolicy.Default;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// Fills <paramref name="recipients"/> for a validated message of <paramref name="definition"/> described by
    /// <paramref name="facts"/>; returns <see cref="MessageCode.InvalidRecipient"/> (with the pointer of the entry)
    /// when a primary recipient is unknown, of another environment, or holds no receiving role of the interface.
    /// Appointments are read as of <paramref name="day"/> (the day the message is accepted on; today by the router's clock when null).
    /// </summary>
    public ValidationResult Route(InterfaceDefinition definition, MessageFacts facts, MarketEnvironment environment, RoutedRecipients recipients, DateOnly? day = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(recipients);
        recipients.Reset(facts.SenderDipId);
        var receiving = definition.ReceivingRoles;

        var primaries = facts.PrimaryRecipients;
        for (var i = 0; i < primaries.Count; i++)
        {
            var participant = _directory.Find(environment, primaries[i]);
            if (participant is null || !Contains(receiving, participant.Role))
            {
                return ValidationResult.Fail(MessageCode.InvalidRecipient,
                    string.Create(CultureInfo.InvariantCulture, $"/payload/CommonBlock/A0/primaryRecipients/{i}"), "routing:primary-recipient",
                    participant is null
                        ? $"Primary recipient {primaries[i]} is not a participant in {environment}; address only participants of this environment."
                        : $"Primary recipient {primaries[i]} is a {participant.Role}, which does not receive {definition.InterfaceId}; its receiving roles are {string.Join(", ", receiving)}.");
            }

            recipients.AddPrimary(participant.DipId);
        }

        var hasMpan = long.TryParse(facts.Mpan, NumberStyles.None, CultureInfo.InvariantCulture, out var mpan);
        var book = hasMpan ? _appointments(environment) : null;
        var today = day ?? DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);
        for (var r = 0; r < receiving.Count; r++)
        {
            var role = receiving[r];
            if (hasMpan && _policy.IsPerMeteringPoint(role, out var party))
            {
                var dipId = PartyOf(party, mpan, facts, book, today);
                if (dipId is not null && _directory.Find(environment, dipId) is { } served && served.Role == role)
                {
                    recipients.AddSecondary(dipId);
                }

                continue;
            }

            var everyone = _directory.InRole(environment, role);
            for (var p = 0; p < everyone.Count; p++)
            {
                recipients.AddAlways(everyone[p].DipId);
            }
        }

        return ValidationResult.Valid;
    }

    private static string? PartyOf(MeteringPointParty party, long mpan, MessageFacts facts, AppointmentBook? book, DateOnly today) =>
        RoutingPolicy.AppointedRoleOf(party) is { } appointed
            ? book?.Appointed(mpan, appointed, today)
            : facts.DistributorDipId ?? book?.Distributor(mpan);

    private static bool Contains(IReadOnlyList<Role> roles, Role role)
    {
        for (var i = 0; i < roles.Count; i++)
        {
            if (roles[i] == role)
            {
                return true;
            }
        }

        return false;
    }
}
