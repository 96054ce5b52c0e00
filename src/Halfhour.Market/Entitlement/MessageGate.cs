using System.Collections.Frozen;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Participants;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Entitlement;

/// <summary>
/// The checks of a valid message against the context it arrived in, which the message alone cannot
/// settle: the channel it was posted to, the authenticated caller, the caller's environment, and the
/// catalogue's sending and receiving roles. Runs after <see cref="IMessageValidator"/> has filled
/// <see cref="MessageFacts"/>. Thread-safe; allocates only when a check fails.
/// </summary>
public sealed class MessageGate
{
    private const string S1Pointer = "/payload/CommonBlock/S1";

    private readonly FrozenDictionary<string, RoleSets> _roles;
    private readonly IParticipantDirectory _directory;

    /// <summary>A gate over <paramref name="catalogue"/>'s roles and the participants of <paramref name="directory"/>.</summary>
    public MessageGate(InterfaceCatalogue catalogue, IParticipantDirectory directory)
    {
        ArgumentNullException.ThrowIfNull(catalogue);
        ArgumentNullException.ThrowIfNull(directory);
        _directory = directory;
        var roles = new Dictionary<string, RoleSets>(StringComparer.Ordinal);
        foreach (var definition in catalogue.All)
        {
            roles[definition.InterfaceId] = new RoleSets(Mask(definition.SendingRoles), Mask(definition.ReceivingRoles));
        }

        _roles = roles.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>
    /// Checks a validated message posted to <paramref name="channelInterfaceId"/> by <paramref name="caller"/>:
    /// MSG1005 when S0.interfaceID is not the channel, MSG1007 when the S1 sender is not the caller, MSG1008
    /// when the environment tag is not the caller's, MSG1009 when the caller's role may not send the
    /// interface, MSG1010 when a primary recipient is unknown, in another environment, or holds no receiving role.
    /// </summary>
    public ValidationResult Check(MessageFacts facts, string channelInterfaceId, Participant caller)
    {
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(caller);
        if (!string.Equals(facts.InterfaceId, channelInterfaceId, StringComparison.Ordinal))
        {
            return ValidationResult.Fail(MessageCode.InterfaceMismatch, "/payload/CommonBlock/S0/interfaceID", "context:channel",
                $"/payload/CommonBlock/S0/interfaceID is {facts.InterfaceId ?? "missing"} but the message was sent to the {channelInterfaceId} channel; send each interface to its own channel.");
        }

        if (!string.Equals(facts.SenderDipId, caller.DipId, StringComparison.Ordinal))
        {
            return ValidationResult.Fail(MessageCode.SenderMismatch, S1Pointer + "/senderDIPID", "context:sender",
                $"{S1Pointer}/senderDIPID is {facts.SenderDipId} but the credentials presented are those of {caller.DipId}; a participant sends only as itself.");
        }

        var callerRole = RoleName(caller.Role);
        if (!string.Equals(facts.SenderRoleId, callerRole, StringComparison.Ordinal))
        {
            return ValidationResult.Fail(MessageCode.SenderMismatch, S1Pointer + "/senderRoleID", "context:sender",
                $"{S1Pointer}/senderRoleID is {facts.SenderRoleId} but {caller.DipId} holds the role {callerRole}.");
        }

        var environment = EnvironmentName(caller.Environment);
        if (!string.Equals(facts.EnvironmentTag, environment, StringComparison.Ordinal))
        {
            return ValidationResult.Fail(MessageCode.EnvironmentMismatch, S1Pointer + "/environmentTag", "context:environment",
                $"{S1Pointer}/environmentTag is {facts.EnvironmentTag} but the credentials presented are for {environment}; environments never mix.");
        }

        var roles = _roles[facts.InterfaceId!];
        if ((roles.Sending & Bit(caller.Role)) == 0)
        {
            return ValidationResult.Fail(MessageCode.NotEntitled, S1Pointer + "/senderRoleID", "context:entitlement",
                $"The role {callerRole} may not send {facts.InterfaceId}; the catalogue lets {Describe(roles.Sending)} send it.");
        }

        var recipients = facts.PrimaryRecipients;
        for (var i = 0; i < recipients.Count; i++)
        {
            var recipient = _directory.Find(caller.Environment, recipients[i]);
            if (recipient is null || (roles.Receiving & Bit(recipient.Role)) == 0)
            {
                var why = recipient is null ? $"is no participant of {environment}"
                    : $"holds the role {recipient.Role}, which does not receive {facts.InterfaceId} (receivers: {Describe(roles.Receiving)})";
                return ValidationResult.Fail(MessageCode.InvalidRecipient, $"/payload/CommonBlock/A0/primaryRecipients/{i}", "context:recipient",
                    $"/payload/CommonBlock/A0/primaryRecipients/{i}: {recipients[i]} {why}.");
            }
        }

        return ValidationResult.Valid;
    }

    private static readonly string[] s_roleNames = Enum.GetNames<Role>();
    private static readonly string[] s_environmentNames = Enum.GetNames<MarketEnvironment>();

    private static string RoleName(Role role) => s_roleNames[(int)role - 1];

    private static string EnvironmentName(MarketEnvironment environment) => s_environmentNames[(int)environment - 1];

    private static uint Bit(Role role) => 1u << (int)role;

    private static uint Mask(IReadOnlyList<Role> roles)
    {
        var mask = 0u;
        foreach (var role in roles)
        {
            mask |= Bit(role);
        }

        return mask;
    }

    private static string Describe(uint mask)
    {
        var names = new List<string>();
        foreach (var role in Enum.GetValues<Role>())
        {
            if ((mask & Bit(role)) != 0)
            {
                names.Add(role.ToString());
            }
        }

        return names.Count == 0 ? "no role" : string.Join(", ", names);
    }

    private readonly record struct RoleSets(uint Sending, uint Receiving);
}
