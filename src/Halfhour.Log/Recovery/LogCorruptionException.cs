namespace Halfhour.Log.Recovery;

/// <summary>
/// Stored data failed a check (checksum, authentication, structure) somewhere a torn write cannot
/// explain: the log refuses to serve it. The file and byte position say where to look.
/// </summary>
public sealed class LogCorruptionException : IOException
{
    /// <summary>Creates the exception for a position in a file.</summary>
    public LogCorruptionException(string filePath, long position, string reason)
        : base($"Corrupt log data in {filePath} at byte {position}: {reason}")
    {
        FilePath = filePath;
        Position = position;
        Reason = reason;
    }

    /// <summary>The file holding the corrupt data.</summary>
    public string FilePath { get; }

    /// <summary>The byte position in <see cref="FilePath"/> where the corrupt batch starts.</summary>
    public long Position { get; }

    /// <summary>What check failed.</summary>
    public string Reason { get; }
}
