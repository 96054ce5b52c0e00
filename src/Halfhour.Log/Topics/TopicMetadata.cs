using System.Globalization;
using System.Text;
using Halfhour.Log.Compression;
using Halfhour.Log.Internal;
using Halfhour.Log.Retention;

namespace Halfhour.Log.Topics;

/// <summary>
/// A topic's options as stored in <c>topic.properties</c> (one <c>key=value</c> a line), written once
/// when the topic is created. Failure semantics: written atomically (temp, fsync, rename, fsync
/// directory) after the partition directories exist, so a topic whose file is missing was never
/// created and is ignored on open.
/// </summary>
internal static class TopicMetadata
{
    public const string FileName = "topic.properties";

    public static void Write(string topicDirectory, TopicOptions options)
    {
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"partitions={options.Partitions}\n")
            .Append(CultureInfo.InvariantCulture, $"compression={options.Compression.Kind}\n")
            .Append(CultureInfo.InvariantCulture, $"compression.level={options.Compression.Level}\n")
            .Append(CultureInfo.InvariantCulture, $"encrypted={options.Encrypted}\n")
            .Append(CultureInfo.InvariantCulture, $"segment.bytes={options.SegmentBytes}\n")
            .Append(CultureInfo.InvariantCulture, $"index.interval.bytes={options.IndexIntervalBytes}\n");
        if (options.Retention.MaxAge is { } age)
        {
            text.Append(CultureInfo.InvariantCulture, $"retention.ms={(long)age.TotalMilliseconds}\n");
        }

        if (options.Retention.MaxBytes is { } bytes)
        {
            text.Append(CultureInfo.InvariantCulture, $"retention.bytes={bytes}\n");
        }

        DurableFile.ReplaceAtomically(Path.Combine(topicDirectory, FileName), Encoding.UTF8.GetBytes(text.ToString()));
    }

    public static TopicOptions? TryRead(string topicDirectory)
    {
        var path = Path.Combine(topicDirectory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines(path))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                values[line[..equals]] = line[(equals + 1)..];
            }
        }

        long Number(string key) => long.Parse(values[key], NumberStyles.Integer, CultureInfo.InvariantCulture);
        try
        {
            return new TopicOptions
            {
                Partitions = (int)Number("partitions"),
                Compression = new CompressionOptions { Kind = Enum.Parse<CompressionKind>(values["compression"]), Level = (int)Number("compression.level") },
                Encrypted = bool.Parse(values["encrypted"]),
                SegmentBytes = Number("segment.bytes"),
                IndexIntervalBytes = (int)Number("index.interval.bytes"),
                Retention = new RetentionOptions
                {
                    MaxAge = values.ContainsKey("retention.ms") ? TimeSpan.FromMilliseconds(Number("retention.ms")) : null,
                    MaxBytes = values.ContainsKey("retention.bytes") ? Number("retention.bytes") : null,
                },
            };
        }
        catch (Exception e) when (e is KeyNotFoundException or FormatException or ArgumentException or OverflowException)
        {
            throw new InvalidDataException($"{path} is not a valid topic description: {e.Message}", e);
        }
    }
}
