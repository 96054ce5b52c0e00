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
/// When several nodes share the store, each node also follows the registration topics' tails
/// (<see cref="Follow"/>), so an appointment accepted through another node routes this node's messages
/// milliseconds later. Applying a message twice (once as this node accepts it, once from the tail) leaves the
/// book as applying it once: the tail replays the stored order last.
/// </summary>
public sealed class AppointmentKeeper
{
    private readonly Dictionary<MarketEnvironment, AppointmentBook> _books = [];
    private readonly Router _router;
    private readonly Dictionary<(string Topic, int Partition), long> _rebuiltThrough = [];
    private readonly HashSet<string> _followed = new(StringComparer.Ordinal);

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

    /// <summary>
    /// Fills <paramref name="recipients"/> for a valid message, with appointments as of <paramref name="day"/> (the day it is
    /// accepted on, so the routing and the date in its transaction ID agree across midnight); a failure names the recipient at fault.
    /// </summary>
    public ValidationResult Route(InterfaceDefinition definition, MessageFacts facts, MarketEnvironment environment, RoutedRecipients recipients, DateOnly? day = null)
    {
        var book = _books[environment];
        lock (book)
        {
            return _router.Route(definition, facts, environment, recipients, day);
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
                    var next = (await store.RangeAsync(topic, partition, cancellationToken)).Start;
                    await store.ScanAsync(topic, partition, next, stored =>
                    {
                        messages.Add((stored.Timestamp, topic, stored.Offset, StoredMessage.Read(stored.Value).Detach()));
                        next = stored.Offset + 1;
                    }, cancellationToken);
                    lock (_rebuiltThrough)
                    {
                        _rebuiltThrough[(topic, partition)] = next;
                    }
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

    /// <summary>
    /// Follows the tail of a registration topic (once per topic; any other interface is ignored) and applies what
    /// any node appends to it, from where <see cref="RebuildAsync"/> stopped, or the topic's start when it found no topic.
    /// </summary>
    public void Follow(IEventStore store, MarketEnvironment environment, string interfaceId, int partitions, Action<Exception>? failed, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var topic = TopicLayout.InterfaceTopic(environment, interfaceId);
        lock (_followed)
        {
            if (!AppointmentMessages.Interfaces.Contains(interfaceId) || !_followed.Add(topic))
            {
                return;
            }
        }

        for (var partition = 0; partition < partitions; partition++)
        {
            var p = partition;
            _ = Task.Run(async () =>
            {
                long from;
                lock (_rebuiltThrough)
                {
                    from = _rebuiltThrough.GetValueOrDefault((topic, p), -1);
                }

                if (from < 0)
                {
                    from = (await store.RangeAsync(topic, p, cancellationToken)).Start;
                }

                await store.FollowAsync(topic, p, from, stored => Apply(environment, StoredMessage.Read(stored.Value)), failed, cancellationToken);
            }, cancellationToken);
        }
    }
}
