using System.Text.Json;
using Halfhour.Server.Hosting;
using Halfhour.Server.Publishing;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Halfhour.Server.Health;

/// <summary>
/// <c>/healthz</c>: the process serves requests (liveness; no checks, so a slow dependency never gets it killed).
/// <c>/readyz</c>: it can do its job — the checks tagged <see cref="ReadyTag"/> pass — so a load balancer may send it traffic.
/// </summary>
internal static class HealthEndpoints
{
    public const string ReadyTag = "ready";

    public static void Map(IEndpointRouteBuilder routes)
    {
        routes.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync });
        routes.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync });
    }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new { name = e.Key, status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonSerializerOptions.Web));
    }
}

/// <summary>
/// Ready only when a publish pipeline is registered and the backbone behind it runs: without one the server
/// identifies participants but stores nothing; while the backbone recovers its store, requests would wait.
/// </summary>
internal sealed class PublishPipelineHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (services.GetService<IPublishHandler>() is not { } handler)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("No publish pipeline is registered: participants can connect but POST /dip-channel/{id} answers 503."));
        }

        var host = services.GetService<BackboneHost>();
        return Task.FromResult(host?.WhenReady.Status switch
        {
            null or TaskStatus.RanToCompletion => HealthCheckResult.Healthy($"Publishing through {handler.GetType().Name}."),
            TaskStatus.Faulted => HealthCheckResult.Unhealthy($"The backbone failed to start: {host.WhenReady.Exception?.InnerException?.Message}"),
            _ => HealthCheckResult.Unhealthy("The backbone is starting (recovering its store)."),
        });
    }
}
