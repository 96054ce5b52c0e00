using System.Globalization;

namespace Halfhour.Engines.Nats.Streams;

/// <summary>
/// Maps topics to stream names and partitions to subjects. Stream names may not contain '.', '*', '>',
/// '/', '\' or white space, so those become '_'; two topics that would share a name are caught when the
/// second is ensured (its subjects differ), never silently merged.
/// </summary>
internal sealed class StreamNaming(string streamPrefix, string subjectPrefix)
{
    /// <summary>The stream of a topic, e.g. <c>HH_DEV_IF-021</c>.</summary>
    public string StreamOf(string topic)
    {
        var chars = (streamPrefix + "_" + topic).ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (chars[i] is '.' or '*' or '>' or '/' or '\\' || char.IsWhiteSpace(chars[i]))
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }

    /// <summary>The subject of one partition, e.g. <c>hh.DEV.IF-021.3</c>.</summary>
    public string SubjectOf(string topic, int partition) => string.Create(CultureInfo.InvariantCulture, $"{subjectPrefix}.{topic}.{partition}");

    /// <summary>The wildcard subject a topic's stream captures, e.g. <c>hh.DEV.IF-021.*</c>.</summary>
    public string WildcardOf(string topic) => $"{subjectPrefix}.{topic}.*";

    /// <summary>Whether a stream name belongs to this deployment.</summary>
    public bool IsOurs(string stream) => stream.StartsWith(streamPrefix + "_", StringComparison.Ordinal);

    /// <summary>The topic a stream's wildcard subject names, or null when it is not one of ours.</summary>
    public string? TopicOfWildcard(string subject)
    {
        var head = subjectPrefix + ".";
        return subject.StartsWith(head, StringComparison.Ordinal) && subject.EndsWith(".*", StringComparison.Ordinal) && subject.Length > head.Length + 2
            ? subject[head.Length..^2]
            : null;
    }

    /// <summary>The KV bucket that holds the cursors.</summary>
    public string CursorBucket => streamPrefix + "_cursors";

    /// <summary>The KV bucket that holds the claims on sender unique references.</summary>
    public string ReferenceBucket => streamPrefix + "_references";

    /// <summary>The KV bucket that holds documents every node shares (the participant registry).</summary>
    public string DocumentBucket => streamPrefix + "_documents";

    /// <summary>The KV bucket that holds the work leases.</summary>
    public string LeaseBucket => streamPrefix + "_leases";
}
