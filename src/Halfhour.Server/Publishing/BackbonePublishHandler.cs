using Halfhour.Broker.Publishing;
using Halfhour.Client.Contract;
using Halfhour.Market.Validation;
using Halfhour.Server.Hosting;

namespace Halfhour.Server.Publishing;

/// <summary>The product <see cref="IPublishHandler"/>: hands the batch to the backbone's publish pipeline and words its result as the DIP does.</summary>
internal sealed class BackbonePublishHandler(BackboneHost host) : IPublishHandler
{
    public async ValueTask<PublishOutcome> PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        var backbone = await host.GetAsync(cancellationToken);
        var result = request.Validated is { } validated
            ? await backbone.Publisher.PublishAsync(request.Sender.Participant, request.ChannelId, request.Body, validated, cancellationToken)
            : request.MessageRanges is { } ranges
            ? await backbone.Publisher.PublishAsync(request.Sender.Participant, request.ChannelId, request.Body, ranges, cancellationToken)
            : await backbone.Publisher.PublishAsync(request.Sender.Participant, request.ChannelId, request.Body, cancellationToken);
        var sender = request.Sender.Participant.DipId;
        var messages = new MessageResponse[result.Messages.Count];
        for (var i = 0; i < messages.Length; i++)
        {
            messages[i] = ToResponse(result.Messages[i], sender);
        }

        return new PublishOutcome(result.StatusCode, messages);
    }

    /// <inheritdoc />
    public async ValueTask<IMessageValidator?> GetValidatorAsync(CancellationToken cancellationToken) => (await host.GetAsync(cancellationToken)).Publisher.Validator;

    /// <summary>One message's result as the StandardResponse's <c>messageArray</c> entry.</summary>
    internal static MessageResponse ToResponse(MessageResult result, string senderDipId) => new(
        result.TransactionId, result.SenderUniqueReference, result.CorrelationId, result.SentTimestamp, senderDipId, result.RecipientId,
        DipConnectionProviderId: null, MessageCodes.Display(result.Code), Help(result.Failure), ServiceTicketUrl: null);

    /// <summary>Where and why a message was refused: the JSON pointer, the rule and the sentence, in that order.</summary>
    private static string? Help(ValidationResult? failure) => failure is null || failure.IsValid
        ? null
        : string.Join(" ", new[] { failure.Pointer, failure.Rule is null ? null : $"({failure.Rule})", failure.Detail }.Where(s => !string.IsNullOrEmpty(s)));
}
