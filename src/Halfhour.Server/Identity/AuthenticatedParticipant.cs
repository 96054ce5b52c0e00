using Halfhour.Market.Participants;
using Halfhour.Server.Participants;

namespace Halfhour.Server.Identity;

/// <summary>Which credentials identified a caller.</summary>
[Flags]
public enum IdentifiedBy
{
    /// <summary>Nothing (never on an authenticated participant).</summary>
    None = 0,
    /// <summary>The mutual-TLS client certificate.</summary>
    ClientCertificate = 1,
    /// <summary>The <c>X-API-Key</c> header.</summary>
    ApiKey = 2,
}

/// <summary>The participant a request comes from, as the identity step established it.</summary>
/// <param name="Participant">DIP ID, role, MPID, name and environment.</param>
/// <param name="IdentifiedBy">Which credentials identified it.</param>
public sealed record AuthenticatedParticipant(Participant Participant, IdentifiedBy IdentifiedBy)
{
    /// <summary>Its registry key.</summary>
    public ParticipantKey Key => new(Participant.Environment, Participant.DipId);
}

/// <summary>Access to the authenticated participant of a request.</summary>
public static class AuthenticatedParticipantAccess
{
    /// <summary>The participant the identity step established, or null on an endpoint that does not require one.</summary>
    public static AuthenticatedParticipant? GetParticipant(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Features.Get<AuthenticatedParticipant>();
    }

    /// <summary>The participant, on an endpoint that requires one.</summary>
    public static AuthenticatedParticipant RequireParticipant(this HttpContext context) =>
        context.GetParticipant() ?? throw new InvalidOperationException("This endpoint runs without the participant identity step; require the participant policy on it.");
}
