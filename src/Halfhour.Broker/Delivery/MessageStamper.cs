using Halfhour.Broker.Messages;
using Halfhour.Broker.StatusMessages;
using Halfhour.Broker.Topics;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Envelope;

namespace Halfhour.Broker.Delivery;

/// <summary>
/// Turns a stored message into what a recipient receives: the sender's bytes with A0 completed and D0 stamped. A status
/// message is delivered as stored (its recipient filled in on acceptance), named by the transaction ID it is about.
/// </summary>
public sealed class MessageStamper(InterfaceCatalogue catalogue)
{
    private readonly InterfaceCatalogue _catalogue = catalogue;

    /// <summary>The outgoing bytes of the message stored at <paramref name="partition"/>/<paramref name="offset"/>.</summary>
    public (string TransactionId, byte[] Bytes) Stamp(StoredMessage message, int partition, long offset, bool replay)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.InterfaceId == TopicLayout.StatusChannel)
        {
            return (StatusMessage.TransactionIdOf(message.Body.Span), message.Body.ToArray());
        }

        var transactionId = TransactionId.Create(message.InterfaceId, message.SenderDipId, message.SenderRole, message.AcceptedAt, partition, offset);
        var publicationId = _catalogue.TryGet(message.InterfaceId, out var definition) ? definition.PublicationId : message.InterfaceId;
        var bytes = EgressWriter.Stamp(message.Body.Span, new EgressStamp
        {
            TransactionId = transactionId,
            TransactionTimestamp = message.AcceptedAt,
            PublicationId = publicationId,
            InitialCorrelationId = message.CorrelationId.Length == 0 ? null : message.CorrelationId,
            ReplayIndicator = replay,
            SecondaryRecipients = message.Secondary,
            Always = message.Always,
        });
        return (transactionId, bytes);
    }
}
