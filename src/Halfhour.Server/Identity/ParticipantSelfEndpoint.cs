namespace Halfhour.Server.Identity;

/// <summary>
/// <c>GET /participant/me</c>: who the backbone takes the caller to be. A newcomer's first call, to check that
/// its certificate and API key identify it before it signs and sends messages.
/// </summary>
internal static class ParticipantSelfEndpoint
{
    public static IResult Get(HttpContext http)
    {
        var p = http.RequireParticipant();
        return TypedResults.Ok(new
        {
            dipId = p.Participant.DipId,
            role = p.Participant.Role.ToString(),
            mpid = p.Participant.Mpid,
            name = p.Participant.Name,
            environment = p.Participant.Environment.ToString(),
            identifiedBy = p.IdentifiedBy.ToString(),
        });
    }
}
