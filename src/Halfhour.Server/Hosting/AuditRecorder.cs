using Halfhour.Broker.Audit;

namespace Halfhour.Server.Hosting;

/// <summary>
/// Records what the server itself sees into the backbone's audit trail: failed authentication and the operator's
/// changes. Recorded only while the backbone runs (a server without one logs instead). The caller does not wait for
/// the durable append, so a flood of bad requests cannot hold requests up on the audit log; a failed append is logged.
/// </summary>
internal sealed partial class AuditRecorder(IServiceProvider services, TimeProvider time, ILogger<AuditRecorder> log)
{
    public void Record(AuditAction action, string actor, string? environment, string? subject, string detail)
    {
        if (services.GetService<BackboneHost>()?.Current is not { } backbone) return;
        var entry = new AuditEntry(time.GetUtcNow(), action, actor, environment, subject, detail);
        _ = RecordAsync(backbone.Audit, entry);
    }

    /// <summary>A refused request: the actor is the remote address, since the caller is not known.</summary>
    public void AuthenticationFailed(HttpContext http, string reason, string detail) =>
        Record(AuditAction.AuthenticationFailed, http.Connection.RemoteIpAddress?.ToString() ?? "unknown", null,
            $"{http.Request.Method} {http.Request.Path}", $"{reason}: {detail}");

    private async Task RecordAsync(AuditTrail trail, AuditEntry entry)
    {
        try
        {
            await trail.RecordAsync(entry);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
            LogNotRecorded(log, e, entry.Action, entry.Actor, entry.Detail);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit entry not recorded: {Action} by {Actor}: {Detail}")]
    private static partial void LogNotRecorded(ILogger logger, Exception exception, AuditAction action, string actor, string detail);
}
