using System.Globalization;
using System.Text.Json;
using Halfhour.Client.Messages;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;
using Halfhour.Simulator.Population;
using Halfhour.Simulator.Traffic;

namespace Halfhour.Simulator.Stubs;

/// <summary>A message a stub sends in answer to one it received.</summary>
/// <param name="Message">The answer.</param>
/// <param name="TriggerTransactionId">The transaction ID of the message it answers.</param>
public sealed record Answer(PlannedMessage Message, string TriggerTransactionId);

/// <summary>A status message a stub sends about a message it received and rejects.</summary>
/// <param name="SenderDipId">The stub rejecting.</param>
/// <param name="TransactionId">The message rejected.</param>
/// <param name="OriginalSenderDipId">Who sent it: the status goes back to them.</param>
public sealed record StatusAnswer(string SenderDipId, string TransactionId, string OriginalSenderDipId);

/// <summary>What a stub owes in answer to a message: who answers, and with what (<see cref="RoleBehaviour.KindOf"/> of an interface and event, or <see cref="RoleBehaviour.Status"/>).</summary>
/// <param name="ResponderDipId">The stub that should answer.</param>
/// <param name="Kind">The interface and event it answers with, or <see cref="RoleBehaviour.Status"/>.</param>
public sealed record DueAnswer(string ResponderDipId, string Kind);

/// <summary>
/// How each role's stub answers what it receives, as the catalogue's service provider appointment flow has it, for the
/// data service (<c>[DSApp…]</c>, B071) and the metering service (<c>[MSApp…]</c>, B070) alike: an incoming supplier told
/// of a change of supplier (IF-001 <c>[ChangeOfSupplier]</c>) asks its registration service to appoint the MPAN's data
/// service and its metering service (IF-031 each); the registration service answers the supplier (IF-032) and asks the
/// proposed service to consider the appointment (IF-033); the service accepts (IF-034, to the registration service),
/// which tells the supplier the outcome (IF-035). A supplier rejects the consumption (IF-021) of a deterministic few
/// MPANs with a DIP status message back to the data service that sent it. A stub answers only what was addressed to it
/// (it is a primary recipient) and only the first copy. <see cref="Due"/> says the same from the sender's side, for conformance.
/// </summary>
public sealed class RoleBehaviour(MarketPopulation population)
{
    /// <summary>The kind of a due answer that is a status message rather than a message on a channel.</summary>
    public const string Status = "statusmessage";

    /// <summary>The status text a supplier rejects consumption with.</summary>
    public const string RejectionText = "MSG0101 Rejected: consumption implausible for the meter";

    // One MPAN in forty has its consumption rejected by its supplier, every day.
    private const ulong SupplierRejectsOneIn = 40;

    /// <summary>The interfaces stubs answer with.</summary>
    public static IReadOnlyList<string> AnswerChannels { get; } = ["IF-031", "IF-032", "IF-033", "IF-034", "IF-035"];

    /// <summary>The proposals a change of supplier starts: the data service's and the metering service's, by event code prefix.</summary>
    private static readonly string[] AppointmentPrefixes = ["DSApp", "MSApp"];

    /// <summary>True when the MPAN's supplier rejects its consumption (with a status message to the data service).</summary>
    public static bool SupplierRejects(long mpan) => ConsumptionRoster.Mix((ulong)mpan ^ 0x5A7UL) % SupplierRejectsOneIn == 0;

    /// <summary>The kind of an answer on a channel: its interface and event code, e.g. <c>IF-034 [MSAppSPResponse]</c>.</summary>
    public static string KindOf(string channel, string eventCode) => $"{channel} [{eventCode}]";

    /// <summary>What the first primary recipient of an accepted message should answer to it.</summary>
    public static IEnumerable<DueAnswer> Due(string channel, string eventCode, long mpan, IReadOnlyList<string> primary)
    {
        ArgumentNullException.ThrowIfNull(eventCode);
        if (primary.Count == 0) yield break;
        var to = primary[0];
        // The appointment family's answers keep the proposal's kind: [MSApp] is answered with [MSAppInitialResp], ….
        var prefix = Array.Find(AppointmentPrefixes, p => eventCode.StartsWith(p, StringComparison.Ordinal));
        switch (channel)
        {
            case "IF-001" when eventCode == "ChangeOfSupplier":
                foreach (var kind in AppointmentPrefixes) yield return new DueAnswer(to, KindOf("IF-031", kind));
                break;
            case "IF-031" when prefix is not null:
                yield return new DueAnswer(to, KindOf("IF-032", prefix + "InitialResp"));
                yield return new DueAnswer(to, KindOf("IF-033", prefix + "SPRequest"));
                break;
            case "IF-033" when prefix is not null:
                yield return new DueAnswer(to, KindOf("IF-034", prefix + "SPResponse"));
                break;
            case "IF-034" when prefix is not null:
                yield return new DueAnswer(to, KindOf("IF-035", prefix + nameof(AppointmentOutcome.Accepted)));
                break;
            case "IF-021" when SupplierRejects(mpan):
                yield return new DueAnswer(to, Status);
                break;
        }
    }

    /// <summary>What the stub <paramref name="self"/> answers to the first copy of a message; the message is read during the call only.</summary>
    public (IReadOnlyList<Answer> Answers, StatusAnswer? Status) React(Participant self, ReceivedCopy copy, JsonElement message)
    {
        ArgumentNullException.ThrowIfNull(self);
        ArgumentNullException.ThrowIfNull(copy);
        if (copy.Primary is not { Count: > 0 } primary || primary[0] != self.DipId) return ([], null);
        var common = message.GetProperty("payload").GetProperty("CommonBlock");
        var custom = message.GetProperty("payload").GetProperty("CustomBlock");
        var m0 = common.GetProperty("M0");
        var point = new MeteringPoint(m0.GetProperty("MPANCore").GetString()!, m0.GetProperty("distributorDIPID").GetString()!, m0.GetProperty("GSPGroupID").GetString()!);
        var now = DateTimeOffset.UtcNow;
        Answer Send(DipMessageBuilder builder) => new(Planned(self, copy.Mpan, point, builder, now), copy.TransactionId);

        switch (self.Role, copy.Channel, copy.EventCode)
        {
            case (Role.SUP, "IF-001", "ChangeOfSupplier"):
            {
                var from = DateOnly.FromDateTime(DateTime.Parse(custom.GetProperty("B002").GetProperty("supplierEffectiveFromDate").GetString()!, CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal));
                ServiceProposal[] proposals =
                [
                    new DataServiceProposal { Service = population.PartyOf(population.DataServiceOf(copy.Mpan)), EffectiveFrom = from },
                    new MeteringServiceProposal { Service = population.PartyOf(population.MeteringServiceOf(copy.Mpan)), EffectiveFrom = from },
                ];
                return ([.. proposals.Select(proposal => Send(new ServiceAppointmentRequest { Point = point, Proposal = proposal, Recipients = [copy.SenderDipId] }))], null);
            }

            case (Role.SUP, "IF-021", _) when SupplierRejects(copy.Mpan):
                return ([], new StatusAnswer(self.DipId, copy.TransactionId, copy.SenderDipId));

            case (Role.REGS, "IF-031", _):
            {
                var proposal = ServiceProposal.Read(custom);
                var supplier = population.PartyOf(copy.SenderDipId);
                return ([
                    Send(new ServiceAppointmentInitialResponse { Point = point, Proposal = proposal, Recipients = [supplier.DipId] }),
                    Send(new ServiceConsiderationRequest { Point = point, Proposal = proposal, RequestingSupplier = supplier, Recipients = [proposal.Service.DipId] }),
                ], null);
            }

            case (Role.SDS or Role.ADS or Role.UMSDS or Role.MSS or Role.MSA or Role.UMSO, "IF-033", _):
                return ([Send(new ServiceAppointmentResponse
                {
                    Point = point, Proposal = ServiceProposal.Read(custom), RequestingSupplier = RequestedServiceMessage.ReadRequestingSupplier(custom), Recipients = [copy.SenderDipId],
                })], null);

            case (Role.REGS, "IF-034", _):
            {
                var supplier = RequestedServiceMessage.ReadRequestingSupplier(custom);
                return ([Send(new ServiceAppointmentStatus { Point = point, Proposal = ServiceProposal.Read(custom), RequestingSupplier = supplier, Recipients = [supplier.DipId] })], null);
            }

            default:
                return ([], null);
        }
    }

    /// <summary>The status message a stub sends for a rejection, as the DIP's StandardResponseBodyType.</summary>
    public static Dictionary<string, object?> StatusMessage(StatusAnswer status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return new()
        {
            ["transactionID"] = status.TransactionId,
            ["senderUniqueReference"] = null,
            ["correlationID"] = null,
            ["sentTimestamp"] = DipTime.Format(DateTimeOffset.UtcNow),
            ["senderID"] = status.SenderDipId,
            ["recipientID"] = status.OriginalSenderDipId,
            ["DIPConnectionProviderID"] = null,
            ["message"] = RejectionText,
            ["help"] = "Check the register reads and send a replacement.",
            ["serviceTicketURL"] = null,
        };
    }

    private PlannedMessage Planned(Participant self, long mpan, MeteringPoint point, DipMessageBuilder builder, DateTimeOffset now)
    {
        var message = builder.Build(new DipSender(self.DipId, self.Role.ToString(), population.Environment.ToString()), now);
        return new PlannedMessage(builder.InterfaceId, builder.EventCode, self.DipId, mpan, point.DistributorDipId, builder.Recipients, message.ToUtf8());
    }
}
