using Microsoft.AspNetCore.Mvc;

namespace Halfhour.Server.Identity;

/// <summary>Why a caller could not be identified, as the problem details it is answered with.</summary>
/// <param name="Status">401 for missing or unknown credentials, 403 for credentials that contradict each other.</param>
/// <param name="Title">A short title.</param>
/// <param name="Detail">What was wrong and what to do.</param>
/// <param name="Reason">The stable reason.</param>
public sealed record IdentityFailure(int Status, string Title, string Detail, string Reason)
{
    /// <summary>The failure as problem details.</summary>
    public ProblemDetails ToProblem() => Problems.Problem.Create(Status, Title, Detail, Reason);

    internal static IdentityFailure Unauthenticated(string reason, string detail) =>
        new(StatusCodes.Status401Unauthorized, "Participant not identified", detail, reason);
}
