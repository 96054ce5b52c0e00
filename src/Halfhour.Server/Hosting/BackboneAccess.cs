using Halfhour.Broker;
using Halfhour.Broker.Audit;
using Halfhour.Broker.Topics;
using Halfhour.Server.Identity;
using Halfhour.Server.Problems;

namespace Halfhour.Server.Hosting;

/// <summary>What the participant endpoints behind the backbone check first: that it runs, that the channel exists, that the caller acts for itself.</summary>
internal static class BackboneAccess
{
    /// <summary>The running backbone (waiting while it starts), or null when this server runs without one.</summary>
    public static async ValueTask<Backbone?> BackboneAsync(this HttpContext http) =>
        http.RequestServices.GetService<BackboneHost>() is { } host ? await host.GetAsync(http.RequestAborted) : null;

    /// <summary>Records what the calling participant did in the backbone's audit trail, durably.</summary>
    public static ValueTask AuditAsync(this HttpContext http, Backbone backbone, AuditAction action, string subject, string detail)
    {
        var caller = http.RequireParticipant().Participant;
        var now = http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        return backbone.Audit.RecordAsync(new AuditEntry(now, action, caller.DipId, caller.Environment.ToString(), subject, detail), http.RequestAborted);
    }

    /// <summary>
    /// The backbone and the checks of the channel, or the problem that answers instead. The status-message channel
    /// (<see cref="TopicLayout.StatusChannel"/>) is a channel only where <paramref name="statusMessages"/> allows it: on the
    /// <c>/statusmessage</c> paths and in the native API, never under <c>/dip-channel</c>.
    /// </summary>
    public static async ValueTask<(Backbone? Backbone, IResult? Problem)> ChannelAsync(this HttpContext http, string channelId, string? recipientId = null,
        bool statusMessages = false)
    {
        var backbone = await http.BackboneAsync();
        if (backbone is null)
        {
            return (null, Problem.Result(StatusCodes.Status503ServiceUnavailable, "Backbone not running",
                "This server runs without a backbone (Halfhour:Backbone:Enabled is false), so it holds no messages; ask the operator.", "backbone-not-running"));
        }

        if (!(statusMessages && channelId == TopicLayout.StatusChannel) && !backbone.Catalogue.TryGet(channelId, out _))
        {
            return (null, Problem.Result(StatusCodes.Status404NotFound, "Unknown channel",
                $"'{channelId}' is not an interface of the catalogue; channels are interface IDs such as IF-021.", "unknown-channel"));
        }

        var caller = http.RequireParticipant().Participant;
        if (recipientId is not null && !string.Equals(recipientId, caller.DipId, StringComparison.Ordinal))
        {
            return (null, Problem.Result(StatusCodes.Status403Forbidden, "Not your recipient ID",
                $"The path names recipient {recipientId} but the caller is {caller.DipId}; a participant acts only for its own DIP ID.", "other-recipient"));
        }

        return (backbone, null);
    }
}
