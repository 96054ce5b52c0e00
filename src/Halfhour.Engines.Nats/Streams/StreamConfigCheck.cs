using NATS.Client.JetStream.Models;

namespace Halfhour.Engines.Nats.Streams;

/// <summary>
/// Checks that the server stored the configuration asked for. Older servers drop what they do not
/// know without an error (nats-server 2.9 ignores compression, metadata and plural filter subjects), and
/// a store that believes it has compression or a single-partition filter when it has not is wrong quietly.
/// </summary>
internal static class StreamConfigCheck
{
    /// <summary>Throws when any setting the store relies on differs from what was asked.</summary>
    public static void Verify(StreamConfig wanted, StreamConfig got)
    {
        var name = wanted.Name!;
        Require(got.Subjects is not null && got.Subjects.SequenceEqual(wanted.Subjects!), name, "subjects", string.Join(',', wanted.Subjects!), string.Join(',', got.Subjects ?? []));
        Require(got.Storage == wanted.Storage, name, "storage", wanted.Storage, got.Storage);
        Require(got.NumReplicas == wanted.NumReplicas, name, "replicas", wanted.NumReplicas, got.NumReplicas);
        Require(got.MaxAge == wanted.MaxAge, name, "max age", wanted.MaxAge, got.MaxAge);
        Require(got.MaxBytes == wanted.MaxBytes, name, "max bytes", wanted.MaxBytes, got.MaxBytes);
        Require(got.DuplicateWindow == wanted.DuplicateWindow, name, "duplicate window", wanted.DuplicateWindow, got.DuplicateWindow);
        Require(got.Compression == wanted.Compression, name, "compression", wanted.Compression, got.Compression,
            " Stream compression needs nats-server 2.10 or later.");
    }

    /// <summary>Throws an <see cref="InvalidOperationException"/> naming the stream and setting when <paramref name="honoured"/> is false.</summary>
    public static void Require(bool honoured, string stream, string setting, object? wanted, object? got, string advice = "")
    {
        if (!honoured)
        {
            throw new InvalidOperationException($"JetStream did not honour the {setting} of '{stream}': asked for {wanted}, the server has {got}.{advice}");
        }
    }
}
