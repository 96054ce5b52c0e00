using Halfhour.Engines.Nats.Cluster;

namespace Halfhour.Server.Participants;

/// <summary>
/// The registry as a document every broker node shares (a JetStream key-value entry): a participant registered or
/// a credential rotated through one node is seen by the others within <see cref="RegistryFollower"/>'s interval.
/// Registry changes are rare operator actions, so they wait for the store synchronously.
/// </summary>
public sealed class SharedRegistryStorage(SharedDocument shared) : IRegistryStorage
{
    /// <inheritdoc />
    public (byte[]? Document, ulong Revision) Read() => shared.ReadAsync().GetAwaiter().GetResult();

    /// <inheritdoc />
    public ulong? TryReplace(byte[] document, ulong expectedRevision) => shared.TryReplaceAsync(document, expectedRevision).GetAwaiter().GetResult();
}
