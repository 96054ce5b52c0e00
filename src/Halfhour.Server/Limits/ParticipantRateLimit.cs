using System.Globalization;
using System.Threading.RateLimiting;
using Halfhour.Server.Identity;
using Halfhour.Server.Problems;
using Microsoft.AspNetCore.RateLimiting;

namespace Halfhour.Server.Limits;

/// <summary>
/// Per-participant request rate: a token bucket per participant (refilled every second, bursts allowed up to its
/// size), so one busy participant cannot starve the others. A refused request gets 429 with <c>Retry-After</c>.
/// </summary>
internal static class ParticipantRateLimit
{
    public const string PolicyName = "participant";

    public static void Configure(RateLimiterOptions options, RequestLimits limits)
    {
        options.AddPolicy(PolicyName, http => RateLimitPartition.GetTokenBucketLimiter(PartitionOf(http), _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = limits.RequestBurst,
            TokensPerPeriod = limits.RequestsPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0, // refuse at once: queued requests would hold their bodies in memory
            AutoReplenishment = true,
        }));

        options.OnRejected = async (context, _) =>
        {
            var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)) : 1;
            context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            await Problem.WriteAsync(context.HttpContext, Problem.Create(StatusCodes.Status429TooManyRequests, "Too many requests",
                $"Participant {PartitionOf(context.HttpContext)} has sent more than {limits.RequestsPerSecond} requests a second " +
                $"(bursts of {limits.RequestBurst}); nothing was processed. Retry after {seconds} s.", "rate-limited"));
        };
    }

    // The participant when the identity step has run; the remote address otherwise.
    private static string PartitionOf(HttpContext http) =>
        http.GetParticipant()?.Key.ToString() ?? "address " + http.Connection.RemoteIpAddress;
}
