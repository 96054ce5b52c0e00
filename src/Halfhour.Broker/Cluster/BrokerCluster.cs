namespace Halfhour.Broker.Cluster;

/// <summary>
/// What several broker nodes sharing one store coordinate through: claims on sender unique references (so a
/// retry landing on another node is answered with the original transaction ID) and leases on work that one node
/// at a time must do (a recipient channel's delivery). The engine supplies both; null in
/// <see cref="BackboneOptions.Cluster"/> means one node alone, where the in-memory index and no leases suffice.
/// </summary>
/// <param name="NodeId">This node's name, unique among the nodes (host name and process ID will do); held leases carry it.</param>
/// <param name="Claims">Cluster-wide claims on sender unique references.</param>
/// <param name="Leases">Cluster-wide leases on work.</param>
public sealed record BrokerCluster(string NodeId, IReferenceClaims Claims, IWorkLeases Leases)
{
    /// <summary>
    /// How often a node looks for topics other nodes created, so it indexes and follows them too. Two seconds: a
    /// new topic is a new interface's first message, rare; the tails that follow it wake on each record, not on this.
    /// </summary>
    public TimeSpan TopicDiscoveryInterval { get; init; } = TimeSpan.FromSeconds(2);
}
