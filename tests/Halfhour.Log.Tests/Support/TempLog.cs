using System.Text;
using Halfhour.Log.Records;

namespace Halfhour.Log.Tests.Support;

/// <summary>A fresh directory under the temp folder, deleted afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "halfhour-log-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A test class that gets its own fresh directory.</summary>
public abstract class InTempDirectory : IDisposable
{
    protected TempDirectory Dir { get; } = new();

    public void Dispose()
    {
        Dir.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Helpers that make records and read them back as text.</summary>
public static class Rec
{
    public static AppendRecord Text(string value, string? key = null, params (string Name, string Value)[] headers)
    {
        RecordHeader[]? hs = null;
        if (headers.Length > 0)
        {
            hs = new RecordHeader[headers.Length];
            for (var i = 0; i < headers.Length; i++)
            {
                hs[i] = new RecordHeader(headers[i].Name, Encoding.UTF8.GetBytes(headers[i].Value));
            }
        }

        return new AppendRecord(Encoding.UTF8.GetBytes(value), key is null ? default : Encoding.UTF8.GetBytes(key), hs);
    }

    public static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    /// <summary>Reads the whole partition from <paramref name="from"/> as (offset, value) pairs.</summary>
    public static List<(long Offset, string Value)> ReadAll(EventLog log, string topic, int partition, long from = 0, int maxBytes = EventLog.DefaultReadBytes)
    {
        var all = new List<(long, string)>();
        var next = from;
        while (true)
        {
            using var result = log.Read(topic, partition, next, maxBytes);
            if (result.IsEmpty)
            {
                return all;
            }

            foreach (var record in result)
            {
                all.Add((record.Offset, Text(record.Value)));
            }

            next = result.NextOffset;
        }
    }
}

/// <summary>A clock tests move by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
