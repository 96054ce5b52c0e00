using System.Globalization;
using System.Text.RegularExpressions;
using Halfhour.Broker.Publishing;
using Halfhour.Client.Contract;
using Halfhour.Server.Hosting;
using Halfhour.Server.Identity;
using Halfhour.Server.Problems;

namespace Halfhour.Server.Publishing;

/// <summary>
/// <c>POST /dip-channel/{id}</c>: a participant sends a batch of messages on an interface channel. Identity,
/// rate and signature are checked before this runs; here the channel and the batch's shape are checked and the
/// batch is handed to the <see cref="IPublishHandler"/>, whose result is answered as the DIP's StandardResponse.
/// </summary>
internal static partial class DipChannelEndpoint
{
    public static async Task<IResult> PublishAsync(string id, HttpContext http, HalfhourServerOptions options, TimeProvider clock, CancellationToken cancellationToken)
    {
        var handler = http.RequestServices.GetService<IPublishHandler>();
        if (handler is null)
        {
            return Problem.Result(StatusCodes.Status503ServiceUnavailable, "Publishing not available",
                "This backbone has no publish pipeline configured, so nothing was stored; /readyz reports the same. Try again once the operator has enabled publishing.",
                "publishing-not-configured");
        }

        if (!ChannelIdPattern().IsMatch(id))
        {
            return Problem.Result(StatusCodes.Status404NotFound, "Unknown channel",
                $"'{id}' is not a DIP channel; channels are interface IDs such as IF-021 or REP-002A.", "unknown-channel");
        }

        var body = http.Features.Get<RequestBody>()
            ?? throw new InvalidOperationException("The DIP signature filter did not run before the channel endpoint.");
        // With the handler's validator, the shape check validates each message as it meets it: one read of the body.
        var validator = await handler.GetValidatorAsync(cancellationToken);
        var validated = validator is null ? null : new ValidatedBatch(validator);
        var ranges = validated is null ? new List<Range>() : null;
        var shape = MessageBatch.Check(body.Memory.Span, options.Limits.MaxMessagesPerRequest, options.Limits.MaxJsonDepth, ranges, validated);
        if (shape.Error is not null)
        {
            return shape.TooMany
                ? Problem.Result(StatusCodes.Status413PayloadTooLarge, "Too many messages", shape.Error, "too-many-messages")
                : Problem.Result(StatusCodes.Status400BadRequest, "Malformed batch", shape.Error, "malformed-batch");
        }

        PublishOutcome outcome;
        try
        {
            outcome = await handler.PublishAsync(new PublishRequest(http.RequireParticipant(), id, body.Memory, shape.Count) { MessageRanges = ranges, Validated = validated }, cancellationToken);
        }
        catch (PublishRequestException refused)
        {
            return Problem.Result(refused.StatusCode, refused.Title, refused.Detail,
                refused.StatusCode == StatusCodes.Status404NotFound ? "unknown-channel" : "malformed-batch");
        }

        var response = new StandardResponse(outcome.Messages, DipTimestamp(clock.GetUtcNow()));
        return TypedResults.Json(response, statusCode: outcome.StatusCode);
    }

    /// <summary>DT-003: <c>yyyy-MM-ddTHH:mm:ss+00:00</c>, 25 characters, in UTC.</summary>
    internal static string DipTimestamp(DateTimeOffset instant) =>
        instant.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", CultureInfo.InvariantCulture);

    // The shapes of DT-000 interface IDs: IF-nnn and REP-nnn with an optional letter.
    [GeneratedRegex("^(IF-[0-9]{3}|REP-[0-9]{3}[A-Z]?)$", RegexOptions.CultureInvariant)]
    private static partial Regex ChannelIdPattern();
}
