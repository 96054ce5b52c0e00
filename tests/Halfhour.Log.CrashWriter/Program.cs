using System.Globalization;
using System.Text;
using Halfhour.Log.Compression;
using Halfhour.Log.Encryption;
using Halfhour.Log.Records;
using Halfhour.Log.Topics;

namespace Halfhour.Log.CrashWriter;

/// <summary>
/// <c>CrashWriter DIR RUN</c>: opens (recovering) the log in DIR, prints <c>READY</c>, then appends
/// from several producers until killed, printing <c>ACK TOPIC PARTITION OFFSET VALUE</c> for every
/// record whose append has completed, i.e. is durable. The parent kills it with SIGKILL at a random
/// moment and checks the log against those lines. Topics: "plain" (3 partitions, 1 MiB segments,
/// single-partition appends) and "sealed" (zstd + AES-GCM, 2 partitions, multi-partition appends).
/// </summary>
internal static class Program
{
    private static readonly Lock s_out = new();

    private static async Task<int> Main(string[] args)
    {
        var directory = args[0];
        var run = args[1];
        var keyring = EncryptionKeyring.FromEnvironment();
        using var log = EventLog.Open(directory, new EventLogOptions { Keyring = keyring, RetentionInterval = null });
        log.CreateTopic("plain", new TopicOptions { Partitions = 3, SegmentBytes = 1 << 20, IndexIntervalBytes = 4096 });
        log.CreateTopic("sealed", new TopicOptions { Partitions = 2, SegmentBytes = 1 << 20, IndexIntervalBytes = 4096, Compression = CompressionOptions.Zstd, Encrypted = true });
        var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
        Report(stdout, "READY\n");

        var producers = new Task[4];
        for (var p = 0; p < 3; p++)
        {
            var producer = p;
            producers[p] = Task.Run(async () =>
            {
                var random = new Random(producer);
                for (var seq = 0; ; seq++)
                {
                    var count = random.Next(1, 20);
                    var records = new AppendRecord[count];
                    var values = new string[count];
                    for (var i = 0; i < count; i++)
                    {
                        values[i] = $"r{run}-p{producer}-s{seq}-{i}";
                        records[i] = new AppendRecord(Encoding.UTF8.GetBytes(values[i] + new string('.', random.Next(0, 2000))));
                    }

                    var result = await log.AppendAsync("plain", producer, records);
                    var text = new StringBuilder();
                    for (var i = 0; i < count; i++)
                    {
                        text.Append(CultureInfo.InvariantCulture, $"ACK plain {producer} {result.FirstOffset + i} {values[i]}\n");
                    }

                    Report(stdout, text.ToString());
                }
            });
        }

        producers[3] = Task.Run(async () =>
        {
            var random = new Random(42);
            for (var seq = 0; ; seq++)
            {
                var requests = new AppendRequest[random.Next(1, 30)];
                var values = new string[requests.Length];
                for (var i = 0; i < requests.Length; i++)
                {
                    values[i] = $"r{run}-m-s{seq}-{i}";
                    var topic = i % 3 == 0 ? "plain" : "sealed";
                    var partition = topic == "plain" ? i % 3 : i % 2;
                    var json = $"{{\"id\":\"{values[i]}\",\"periods\":[{{\"sp\":\"2026-11-01T00:00:00+00:00\",\"v\":\"0.123\",\"q\":\"A\"}}]}}";
                    requests[i] = new AppendRequest(topic, partition, new AppendRecord(Encoding.UTF8.GetBytes(json), Encoding.UTF8.GetBytes("1234567890123")));
                }

                var offsets = await log.AppendAsync(requests);
                var text = new StringBuilder();
                for (var i = 0; i < requests.Length; i++)
                {
                    text.Append(CultureInfo.InvariantCulture, $"ACK {requests[i].Topic} {requests[i].Partition} {offsets[i]} {values[i]}\n");
                }

                Report(stdout, text.ToString());
            }
        });

        await Task.WhenAll(producers);
        return 0;
    }

    private static void Report(StreamWriter stdout, string text)
    {
        lock (s_out)
        {
            stdout.Write(text);
            stdout.Flush();
        }
    }
}
