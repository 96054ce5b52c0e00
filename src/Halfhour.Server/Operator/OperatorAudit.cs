using Halfhour.Server.Participants;

namespace Halfhour.Server.Operator;

/// <summary>The log of what the operator changed, for an auditor: who was registered, whose credentials changed. Never a secret.</summary>
internal sealed partial class OperatorAudit(ILogger<OperatorAudit> log, Hosting.AuditRecorder trail)
{
    private const string Actor = "operator";

    public void Registered(ParticipantKey participant, string role, string certificateThumbprint)
    {
        LogRegistered(log, participant.ToString(), role, certificateThumbprint);
        Changed(participant, $"Registered as {role} with certificate {certificateThumbprint} and a new API key.");
    }

    public void Rotated(ParticipantKey participant, string certificateThumbprint, bool retiredPrevious)
    {
        LogRotated(log, participant.ToString(), certificateThumbprint, retiredPrevious);
        Changed(participant, $"Credentials rotated: certificate {certificateThumbprint} and a new API key; previous retired: {retiredPrevious}.");
    }

    public void CertificateRetired(ParticipantKey participant, string certificateThumbprint)
    {
        LogRetired(log, participant.ToString(), certificateThumbprint);
        Changed(participant, $"Certificate {certificateThumbprint} retired.");
    }

    private void Changed(ParticipantKey participant, string detail) =>
        trail.Record(Broker.Audit.AuditAction.ConfigurationChanged, Actor, participant.Environment.ToString(), participant.DipId, detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Operator registered participant {Participant} as {Role} with certificate {Thumbprint} and a new API key")]
    private static partial void LogRegistered(ILogger logger, string participant, string role, string thumbprint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Operator rotated the credentials of {Participant}: certificate {Thumbprint} and a new API key; previous ones retired: {RetiredPrevious}")]
    private static partial void LogRotated(ILogger logger, string participant, string thumbprint, bool retiredPrevious);

    [LoggerMessage(Level = LogLevel.Information, Message = "Operator retired certificate {Thumbprint} of {Participant}")]
    private static partial void LogRetired(ILogger logger, string participant, string thumbprint);
}
