using System.IO.Hashing;
using System.Text;
using Halfhour.Market.Participants;

namespace Halfhour.Broker.Topics;

/// <summary>
/// Where the broker keeps what: one topic per environment and interface, partitioned by MPAN so that
/// the events of one metering point stay in order; one inbox per environment, recipient and interface
/// holding pointers to what is routed to it; one audit topic. Environments never share a topic.
/// </summary>
public sealed class TopicLayout(int partitionsPerInterface)
{
    /// <summary>
    /// Eight partitions by default: enough parallel order-keeping lanes for delivery on a small machine,
    /// few enough that one commit of a mixed batch touches few files (each partition is an fsync).
    /// </summary>
    public const int DefaultPartitions = 8;

    /// <summary>The ceiling the transaction ID's three partition digits allow.</summary>
    public const int MaxPartitions = 999;

    /// <summary>The audit trail's topic.</summary>
    public const string AuditTopic = "audit";

    /// <summary>
    /// The channel of status messages (the DIP's <c>/statusmessage</c>): its topic is <c>{environment}.statusmessage</c> and it
    /// is delivered by inbox, webhook, pull, replay and requeue exactly as an interface channel is; lower case, so it
    /// never collides with an interface ID.
    /// </summary>
    public const string StatusChannel = "statusmessage";

    /// <summary>The partition count of every interface topic.</summary>
    public int PartitionsPerInterface { get; } = partitionsPerInterface is > 0 and <= MaxPartitions
        ? partitionsPerInterface
        : throw new ArgumentOutOfRangeException(nameof(partitionsPerInterface), $"Between 1 and {MaxPartitions} partitions per interface.");

    /// <summary>The topic of an interface in an environment, e.g. <c>DEV.IF-021</c>.</summary>
    public static string InterfaceTopic(MarketEnvironment environment, string interfaceId) => $"{environment}.{interfaceId}";

    /// <summary>
    /// The inbox of a recipient for one interface in an environment, e.g. <c>DEV.inbox.1000000004.IF-021</c>:
    /// per interface because the DIP configures delivery, replay and requeue per channel and recipient.
    /// </summary>
    public static string InboxTopic(MarketEnvironment environment, string dipId, string interfaceId) => $"{environment}.inbox.{dipId}.{interfaceId}";

    /// <summary>
    /// The partition of a message: by its MPAN when it is about one (so one metering point's events keep
    /// their order), else by its sender (so a sender's other messages keep theirs).
    /// </summary>
    public int PartitionOf(string? mpan, string senderDipId)
    {
        var key = string.IsNullOrEmpty(mpan) ? senderDipId : mpan;
        Span<byte> utf8 = stackalloc byte[64];
        var length = Encoding.UTF8.GetBytes(key.AsSpan(0, Math.Min(key.Length, 16)), utf8);
        return (int)(XxHash32.HashToUInt32(utf8[..length]) % (uint)PartitionsPerInterface);
    }
}
