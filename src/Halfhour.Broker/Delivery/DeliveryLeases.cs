using Halfhour.Market.Participants;

namespace Halfhour.Broker.Delivery;

/// <summary>The names of delivery work that one broker node at a time does, for <see cref="Cluster.IWorkLeases"/>.</summary>
public static class DeliveryLeases
{
    /// <summary>The lease of a recipient's channel: its webhook pushes and its pulls are served by the node holding it.</summary>
    public static string NameOf(MarketEnvironment environment, string dipId, string interfaceId) => $"delivery.{environment}.{dipId}.{interfaceId}";
}
