using System.Text;
using Halfhour.Broker.Delivery;
using Halfhour.Broker.Messages;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Topics;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;

namespace Halfhour.Broker.Tests.Support;

/// <summary>
/// Messages of one interface topic and a recipient's inbox pointing to them, written straight into a store as the publish
/// path and the indexers write them, so a reader of pointers (a subscription, a replay) can be shown any inbox: pointers
/// repeated, out of order, or naming places that hold other messages, as after a nats-server 2.9 renumbering.
/// </summary>
public static class PointedMessages
{
    /// <summary>The recipient whose inbox is written.</summary>
    public const string Recipient = "1000000009";

    /// <summary>The MPAN core every message is about.</summary>
    public const string Mpan = "1012345678901";

    /// <summary>The market environment of the topics.</summary>
    public const MarketEnvironment TestEnvironment = MarketEnvironment.DEV;

    /// <summary>The interface topic the messages are stored in (IF-021, one partition).</summary>
    public static readonly string Topic = TopicLayout.InterfaceTopic(TestEnvironment, "IF-021");

    /// <summary>The recipient's IF-021 inbox.</summary>
    public static readonly string Inbox = TopicLayout.InboxTopic(TestEnvironment, Recipient, "IF-021");

    /// <summary>Stores <paramref name="count"/> IF-021 messages of <see cref="Mpan"/>, each with its own body, routed to <paramref name="routedTo"/> (the recipient by default); returns their offsets.</summary>
    public static async Task<long[]> StoreMessagesAsync(IEventStore store, int count, string? routedTo = null, int firstReference = 0)
    {
        await store.EnsureTopicAsync(new TopicSpec(Topic, 1));
        var builder = new ConsumptionMessageBuilder(new ConsumptionMessageOptions { Environment = TestEnvironment, MeteringPoints = 100, Seed = 3 }, new ConsumptionRoster(2, 2));
        var writes = Enumerable.Range(firstReference, count).Select(n => new EventWrite(Topic, 0, Encoding.ASCII.GetBytes(Mpan), new StoredMessage
        {
            InterfaceId = "IF-021",
            EventCode = "ActivePower",
            AcceptedAt = DateTimeOffset.UtcNow,
            SenderDipId = "2000000001",
            SenderRole = "SDS",
            SenderUniqueReference = $"ref-{n}",
            Mpan = Mpan,
            Always = [routedTo ?? Recipient],
            Body = builder.Build(n),
        }.ToArray())).ToList();
        return await store.AppendAsync(writes);
    }

    /// <summary>
    /// Writes pointers to <paramref name="offsets"/>, each keyed, as the indexer keys it, by its message's MPAN (<paramref name="mpans"/>;
    /// the messages' own by default) and carrying, as the indexer does, its record's fingerprint (<paramref name="fingerprints"/>; the
    /// records' own by default).
    /// </summary>
    public static async Task WritePointersAsync(IEventStore store, IReadOnlyList<long> offsets, IReadOnlyList<string>? mpans = null,
        IReadOnlyList<ulong>? fingerprints = null, string? inbox = null)
    {
        inbox ??= Inbox;
        await store.EnsureTopicAsync(new TopicSpec(inbox, 1, TopicDurability.Derived));
        for (var i = 0; i < offsets.Count; i++)
        {
            // One append per pointer, as the two indexers' appends interleave.
            var key = Encoding.ASCII.GetBytes(mpans?[i] ?? Mpan);
            var fingerprint = fingerprints?[i] ?? await FingerprintAtAsync(store, offsets[i]) ?? 0; // none stored there (yet): any
            await store.AppendAsync([new EventWrite(inbox, 0, key, new InboxPointer("IF-021", 0, offsets[i], fingerprint).ToArray())]);
        }
    }

    /// <summary>Writes pointers of the first format (no fingerprint), byte for byte as inboxes stored before the fingerprint hold them.</summary>
    public static async Task WriteFirstFormatPointersAsync(IEventStore store, IReadOnlyList<long> offsets)
    {
        await store.EnsureTopicAsync(new TopicSpec(Inbox, 1, TopicDurability.Derived));
        foreach (var offset in offsets)
        {
            // Interface ID length, interface ID, partition (u16 LE), offset (i64 LE).
            var pointer = new byte[1 + 6 + 2 + 8];
            pointer[0] = 6;
            Encoding.ASCII.GetBytes("IF-021", pointer.AsSpan(1));
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(pointer.AsSpan(9), offset);
            await store.AppendAsync([new EventWrite(Inbox, 0, Encoding.ASCII.GetBytes(Mpan), pointer)]);
        }
    }

    /// <summary>The fingerprints of the records stored at <paramref name="offsets"/>.</summary>
    public static async Task<ulong[]> FingerprintsAsync(IEventStore store, IReadOnlyList<long> offsets)
    {
        var fingerprints = new ulong[offsets.Count];
        for (var i = 0; i < offsets.Count; i++)
        {
            fingerprints[i] = await FingerprintAtAsync(store, offsets[i]) ?? throw new InvalidOperationException($"No record at {offsets[i]}.");
        }

        return fingerprints;
    }

    /// <summary>The fingerprint of the record stored at <paramref name="offset"/>, or null when none is.</summary>
    public static async Task<ulong?> FingerprintAtAsync(IEventStore store, long offset)
    {
        try
        {
            return await StoredEventReader.ReadOneAsync(store, Topic, 0, offset, CancellationToken.None) is { } stored ? InboxPointer.FingerprintOf(stored) : null;
        }
        catch (ArgumentOutOfRangeException)
        {
            return null; // the embedded log refuses an offset past the partition's end
        }
    }
}
