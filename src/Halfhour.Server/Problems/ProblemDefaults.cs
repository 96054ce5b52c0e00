namespace Halfhour.Server.Problems;

/// <summary>
/// Fills in what a generic problem (one the framework raises: no such route, method not allowed) lacks: a
/// detail sentence and a reason, plus the trace identifier every problem carries for support requests.
/// </summary>
internal static class ProblemDefaults
{
    public static void Complete(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        var http = context.HttpContext;
        problem.Extensions["traceId"] = http.TraceIdentifier;
        if (problem.Extensions.ContainsKey(Problem.ReasonMember)) return;

        var (reason, detail) = problem.Status switch
        {
            StatusCodes.Status404NotFound => ("not-found",
                $"There is nothing at {http.Request.Path}. Participants send to POST /dip-channel/{{interfaceID}}; /healthz and /readyz report the server's state."),
            StatusCodes.Status405MethodNotAllowed => ("method-not-allowed",
                $"{http.Request.Path} does not accept {http.Request.Method}" +
                (http.Response.Headers.Allow.Count > 0 ? $"; it accepts {http.Response.Headers.Allow}." : ".")),
            StatusCodes.Status415UnsupportedMediaType => ("unsupported-media-type", "Send the body as application/json."),
            StatusCodes.Status400BadRequest => ("bad-request", problem.Detail ?? "The request could not be read."),
            _ => ("http-" + problem.Status, problem.Detail ?? problem.Title ?? "The request failed."),
        };
        problem.Detail ??= detail;
        problem.Type = Problem.TypePrefix + reason;
        problem.Extensions[Problem.ReasonMember] = reason;
    }
}
