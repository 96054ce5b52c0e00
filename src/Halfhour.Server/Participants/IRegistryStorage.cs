using Halfhour.Server.Storage;

namespace Halfhour.Server.Participants;

/// <summary>
/// Where the participant registry's document lives: a file in the data directory (one node), or a document every
/// broker node shares (<see cref="SharedRegistryStorage"/>). Replacing is compare-and-set on a revision, so nodes
/// changing the registry at once never lose each other's changes.
/// </summary>
public interface IRegistryStorage
{
    /// <summary>The stored document (null when none was written yet) and its revision.</summary>
    (byte[]? Document, ulong Revision) Read();

    /// <summary>Replaces the document if it is still at <paramref name="expectedRevision"/>; the new revision, or null when another node changed it first.</summary>
    ulong? TryReplace(byte[] document, ulong expectedRevision);
}

/// <summary>
/// The registry as one file, replaced whole with <see cref="AtomicFile"/>: a crash leaves it as before or after a
/// change. One process writes it, so the revision is a counter of this process's writes.
/// </summary>
public sealed class FileRegistryStorage : IRegistryStorage
{
    private readonly string _path;
    private ulong _revision;

    /// <summary>The registry file at <paramref name="path"/> (created on the first change).</summary>
    public FileRegistryStorage(string path)
    {
        _path = path;
        AtomicFile.RemoveLeftovers(path);
    }

    /// <inheritdoc />
    public (byte[]? Document, ulong Revision) Read() => (File.Exists(_path) ? File.ReadAllBytes(_path) : null, _revision);

    /// <inheritdoc />
    public ulong? TryReplace(byte[] document, ulong expectedRevision)
    {
        AtomicFile.Write(_path, document, secret: true);
        return ++_revision;
    }
}
