using Microsoft.AspNetCore.Diagnostics;

namespace Halfhour.Server.Problems;

/// <summary>
/// Turns every exception that escapes an endpoint into problem details: a malformed or oversized HTTP request into
/// its 4xx, anything else into a logged 500 that names the trace identifier to quote. Never a bare 500.
/// </summary>
internal sealed partial class ProblemExceptionHandler(ILogger<ProblemExceptionHandler> log, Hosting.HalfhourServerOptions options) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is no one to answer.
            return true;
        }

        var problem = exception switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => Problem.Create(413, "Request body too large",
                $"The request body exceeds {options.Limits.MaxRequestBodyBytes} bytes; split the batch into smaller requests.", "body-too-large"),
            BadHttpRequestException bad => Problem.Create(bad.StatusCode, "Malformed request",
                bad.InnerException is { } inner ? $"{bad.Message} {inner.Message}" : bad.Message, "malformed-request"),
            _ => null,
        };

        if (problem is null)
        {
            LogUnhandled(log, exception, httpContext.Request.Method, httpContext.Request.Path, httpContext.TraceIdentifier);
            problem = Problem.Create(StatusCodes.Status500InternalServerError, "Internal error",
                $"The backbone failed while handling this request; nothing more can be said safely. Quote trace {httpContext.TraceIdentifier} to the operator.",
                "internal-error");
        }

        await Problem.WriteAsync(httpContext, problem);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception on {Method} {Path} (trace {TraceId})")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path, string traceId);
}
