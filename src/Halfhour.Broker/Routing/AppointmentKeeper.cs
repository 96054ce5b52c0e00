using Halfhour.Broker.Messages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;
using Halfhour.Market.Appointments;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Participants;
using Halfhour.Market.Routing;
using Halfhour.Market.Validation;

namespace Halfhour.Broker.Routing;

/// <summary>
/// The appointment book of each environment, kept from the registration messages the backbone accepts,
/// and the routing that reads it. A book is not thread-safe, so changes and routing take turns under one
/// lock per environment: routing a message costs microseconds, registrations are a few hundred thousand a day.
/// On start the books are rebuilt by replaying the stored registration messages in the order they were accepted.
/// </summary>
public sealed class AppointmentKeeper
{
    private readonly Dictionary<MarketEnvironment, AppointmentBook> _books = [];
    private readonly Router _router;

    /// <summary>A keeper whose router finds participants in <paramref name="directory"/>.</summary>
    public AppointmentKeeper(IParticipantDirectory directory, TimeProvider time)
    {
        foreach (var environment in Enum.GetValues<MarketEnvironment>())
        {
            _books[environment] = new AppointmentBook();
        }

        _router = new Router(directory, environment => _books[environment], time: time);
    }

    /// <summary>How many metering points the book of <paramref name="environment"/> knows.</summary>
    public int Count(MarketEnvironment environment)
    {
        var book = _books[environment];
        lock (book)
        {
            return book.Count;
        }
    }

    /// <summary>Fills <paramref name="recipients"/> for a valid message; a failure names the recipient at fault.</summary>
    public ValidationResult Route(InterfaceDefinition definition, MessageFacts facts, MarketEnvironment environment, RoutedRecipients recipients)
    {
        var book = _books[environment];
        lock (book)
        {
            return _router.Route(definition, facts, environment, recipients);
        }
    }

    /// <summary>Applies an accepted message to its environment's book when it is a registration message.</summary>
    public void Apply(MarketEnvironment environment, StoredMessage message)
    {
        if (!AppointmentMessages.Interfaces.Contains(message.InterfaceId))
        {
            return;
        }

        var book = _books[environment];
        lock (book)
        {
            book.ApplyMessage(message.Body.Span, []);
        }
    }

    /// <summary>Rebuilds every book from the stored registration messages, in the order they were accepted.</summary>
    public async Task<int> RebuildAsync(IEventStore store, int partitions, CancellationToken cancellationToken)
    {
        var topics = await store.ListTopicsAsync(cancellationToken);
        var applied = 0;
        foreach (var environment in Enum.GetValues<MarketEnvironment>())
        {
            var messages = new List<(DateTimeOffset At, string Topic, long Offset, StoredMessage Message)>();
            foreach (var interfaceId in AppointmentMessages.Interfaces)
            {
                var topic = TopicLayout.InterfaceTopic(environment, interfaceId);
                if (!topics.Contains(topic))
                {
                    continue;
                }

                for (var partition = 0; partition < partitions; partition++)
                {
                    await store.ScanAsync(topic, partition, from: null,
                        stored => messages.Add((stored.Timestamp, topic, stored.Offset, StoredMessage.Read(stored.Value).Detach())), cancellationToken);
                }
            }

            // One MPAN's messages share a partition but not a topic: the acceptance time orders them across topics.
            messages.Sort((a, b) => a.At != b.At ? a.At.CompareTo(b.At) : a.Topic != b.Topic ? string.CompareOrdinal(a.Topic, b.Topic) : a.Offset.CompareTo(b.Offset));
            foreach (var (_, _, _, message) in messages)
            {
                Apply(environment, message);
                applied++;
            }
        }

        return applied;
    }
}
