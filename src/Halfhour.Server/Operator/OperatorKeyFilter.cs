using Halfhour.Server.Credentials;
using Halfhour.Server.Problems;

namespace Halfhour.Server.Operator;

/// <summary>Admits a request to the operator API only with the operator key in <c>X-Operator-Key</c>, compared in constant time.</summary>
internal sealed class OperatorKeyFilter(OperatorKey key) : IEndpointFilter
{
    public const string Header = "X-Operator-Key";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var presented = context.HttpContext.Request.Headers[Header].ToString();
        if (presented.Length == 0)
        {
            return Problem.Result(StatusCodes.Status401Unauthorized, "Operator key required",
                $"The operator API needs the {Header} header (the sandbox writes it to DATA/sandbox/operator-api-key.txt).", "operator-key-missing");
        }

        if (!ApiKeys.Matches(presented, key.Sha256))
        {
            return Problem.Result(StatusCodes.Status403Forbidden, "Operator key refused",
                $"The {Header} presented is not this backbone's operator key.", "operator-key-refused");
        }

        return await next(context);
    }
}

/// <summary>The operator key, kept as its hash.</summary>
/// <param name="Sha256">SHA-256 of the key, upper-case hex.</param>
internal sealed record OperatorKey(string Sha256);
