using System.Security.Cryptography;
using System.Text;
using Halfhour.Log.Compression;
using Halfhour.Log.Records;
using Halfhour.Log.Tests.Support;
using Halfhour.Log.Topics;

namespace Halfhour.Log.Tests.Compression;

public class CompressionTests : InTempDirectory
{
    private static string ConsumptionJson(int n)
    {
        var text = new StringBuilder($"{{\"mpan\":\"{1900000000000 + n}\",\"periods\":[");
        for (var p = 0; p < 48; p++)
        {
            text.Append($"{{\"sp\":\"2026-11-01T{p / 2:00}:{p % 2 * 30:00}:00+00:00\",\"v\":\"0.{n % 1000:000}\",\"q\":\"A\"}},");
        }

        return text.Append("]}").ToString();
    }

    private long TopicBytes(string topic) => Directory.GetFiles(Path.Combine(Dir.Path, topic), "*.log", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    [Fact]
    public async Task A_zstd_topic_stores_mhhs_json_in_far_fewer_bytes_and_reads_it_back_unchanged()
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        log.CreateTopic("plain");
        log.CreateTopic("zstd", new TopicOptions { Compression = CompressionOptions.Zstd });
        var records = new List<AppendRecord>();
        for (var i = 0; i < 200; i++)
        {
            records.Add(Rec.Text(ConsumptionJson(i), "key"));
        }

        await log.AppendAsync("plain", 0, records);
        await log.AppendAsync("zstd", 0, records);

        Assert.True(TopicBytes("zstd") * 4 < TopicBytes("plain"), $"zstd {TopicBytes("zstd")} vs plain {TopicBytes("plain")}");
        var read = Rec.ReadAll(log, "zstd", 0);
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(ConsumptionJson(i), read[i].Value);
        }
    }

    [Fact]
    public async Task Incompressible_batches_are_stored_plain_and_still_read_back()
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        log.CreateTopic("zstd", new TopicOptions { Compression = CompressionOptions.Zstd });
        var noise = RandomNumberGenerator.GetBytes(10_000);
        await log.AppendAsync("zstd", 0, new AppendRecord(noise));
        using var result = log.Read("zstd", 0, 0);
        foreach (var r in result)
        {
            Assert.True(r.Value.Span.SequenceEqual(noise));
        }

        var segment = await File.ReadAllBytesAsync(Directory.GetFiles(Path.Combine(Dir.Path, "zstd", "0"), "*.log").Single());
        Assert.Equal(0, segment[17] & 1); // the zstd flag is off
    }
}
