using Microsoft.AspNetCore.Mvc;

namespace Halfhour.Server.Problems;

/// <summary>
/// RFC 9457 problem details as this server writes them: a status, a short title, a detail sentence saying what
/// was wrong and what to do, a stable <c>reason</c> a program can switch on, and the type <c>urn:halfhour:problem:{reason}</c>.
/// </summary>
public static class Problem
{
    /// <summary>The prefix of every problem type this server defines.</summary>
    public const string TypePrefix = "urn:halfhour:problem:";

    /// <summary>The extension member holding the stable reason.</summary>
    public const string ReasonMember = "reason";

    /// <summary>Builds a problem.</summary>
    public static ProblemDetails Create(int status, string title, string detail, string reason)
    {
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail, Type = TypePrefix + reason };
        problem.Extensions[ReasonMember] = reason;
        return problem;
    }

    /// <summary>A problem as an endpoint result.</summary>
    public static IResult Result(int status, string title, string detail, string reason) =>
        TypedResults.Problem(Create(status, title, detail, reason));

    /// <summary>Writes a problem to a response from middleware or a handler, outside an endpoint.</summary>
    public static async ValueTask WriteAsync(HttpContext context, ProblemDetails problem)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(problem);
        context.Response.StatusCode = problem.Status ?? StatusCodes.Status500InternalServerError;
        var writer = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        if (!await writer.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }))
        {
            // The client accepts no JSON; the status and a plain sentence still say what happened.
            await context.Response.WriteAsync($"{problem.Title}: {problem.Detail}");
        }
    }
}
