namespace Halfhour.Server.Storage;

/// <summary>
/// Replaces a small file whole. Failure semantics: the new content is written to a temporary file beside the
/// target, flushed to the device (fsync), then renamed over the target; rename is atomic on one file system, so a
/// crash at any point leaves either the complete old file or the complete new one, never a mix. A crash can leave
/// a temporary file behind; <see cref="RemoveLeftovers"/> deletes those on the next start. (The directory entry
/// itself is not fsynced, so after a power loss the old file may come back; it is still whole.)
/// </summary>
public static class AtomicFile
{
    private const string TemporaryMarker = ".tmp-";

    /// <summary>Writes content to a path atomically; a secret file is created readable by its owner only (0600).</summary>
    public static void Write(string path, ReadOnlySpan<byte> content, bool secret = false)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = path + TemporaryMarker + Guid.NewGuid().ToString("N");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // Set at creation, so a private key is never readable by others, not even for a moment.
            options.UnixCreateMode = secret
                ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes text as UTF-8, atomically.</summary>
    public static void WriteText(string path, string text, bool secret = false) =>
        Write(path, System.Text.Encoding.UTF8.GetBytes(text), secret);

    /// <summary>Deletes temporary files a crash left beside a target path.</summary>
    public static void RemoveLeftovers(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(directory)) return;
        foreach (var leftover in Directory.EnumerateFiles(directory, Path.GetFileName(path) + TemporaryMarker + "*"))
        {
            File.Delete(leftover);
        }
    }
}
