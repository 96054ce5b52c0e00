using System.Globalization;
using Halfhour.Log.Encryption;
using Halfhour.Log.Tests.Support;
using Xunit.Abstractions;

namespace Halfhour.Log.Tests.Crash;

public class CrashRecoveryTests(ITestOutputHelper output) : InTempDirectory
{
    [Fact]
    public Task Every_acknowledged_record_survives_30_SIGKILLs_exactly_once_in_order_and_the_log_accepts_appends_after()
        => KillRepeatedly(30);

    [Fact]
    [Trait("Category", "Soak")]
    public Task Every_acknowledged_record_survives_200_SIGKILLs()
        => KillRepeatedly(200);

    private async Task KillRepeatedly(int kills)
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var acknowledged = new Dictionary<(string Topic, int Partition, long Offset), string>();
        var totalAcks = 0;
        for (var run = 0; run < kills; run++)
        {
            using var child = new CrashWriterProcess(Dir.Path, run);
            var ready = await Task.WhenAny(child.Ready, Task.Delay(TimeSpan.FromSeconds(60)));
            if (ready != child.Ready || !child.Ready.IsCompletedSuccessfully)
            {
                await child.KillAsync();
                Assert.Fail($"run {run}: the crash writer did not become ready: {child.Errors}");
            }

            await Task.Delay(random.Next(5, 300));
            var lines = await child.KillAsync();
            foreach (var line in lines)
            {
                if (!line.StartsWith("ACK ", StringComparison.Ordinal))
                {
                    continue;
                }

                var parts = line.Split(' ');
                var key = (parts[1], int.Parse(parts[2], CultureInfo.InvariantCulture), long.Parse(parts[3], CultureInfo.InvariantCulture));
                Assert.True(acknowledged.TryAdd(key, parts[4]) || acknowledged[key] == parts[4], $"seed {seed} run {run}: offset {key} acknowledged twice with different records");
                totalAcks++;
            }

            Verify(acknowledged, $"seed {seed} run {run}");
        }

        output.WriteLine($"{kills} kills, {totalAcks} acknowledged records checked, seed {seed}");
        Assert.True(totalAcks > 0, "the crash writer never acknowledged anything");
    }

    /// <summary>Reopens the log: every acknowledged record is at its offset, offsets are gap-free, no record twice, and appends work.</summary>
    private void Verify(Dictionary<(string Topic, int Partition, long Offset), string> acknowledged, string context)
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { Keyring = EncryptionKeyring.Parse(CrashWriterProcess.Keys), RetentionInterval = null });
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (topic, partitions) in new[] { ("plain", 3), ("sealed", 2) })
        {
            for (var partition = 0; partition < partitions; partition++)
            {
                var expected = 0L;
                var next = 0L;
                while (true)
                {
                    using var result = log.Read(topic, partition, next);
                    if (result.IsEmpty)
                    {
                        break;
                    }

                    foreach (var record in result)
                    {
                        Assert.True(record.Offset == expected, $"{context}: {topic}/{partition} offset {record.Offset} where {expected} was expected");
                        var id = IdOf(Rec.Text(record.Value));
                        Assert.True(seen.Add(id), $"{context}: record {id} appears twice");
                        if (acknowledged.TryGetValue((topic, partition, record.Offset), out var acked))
                        {
                            Assert.True(acked == id, $"{context}: {topic}/{partition}@{record.Offset} holds {id}, acknowledged as {acked}");
                        }

                        expected++;
                    }

                    next = result.NextOffset;
                }

                foreach (var ((t, p, offset), id) in acknowledged)
                {
                    Assert.True(t != topic || p != partition || offset < expected, $"{context}: acknowledged {id} at {t}/{p}@{offset} is missing (partition ends at {expected})");
                }

                var appended = log.AppendAsync(topic, partition, Rec.Text($"after-{context}-{topic}-{partition}")).AsTask().GetAwaiter().GetResult();
                Assert.Equal(expected, appended);
                seen.Add($"after-{context}-{topic}-{partition}");
            }
        }
    }

    private static string IdOf(string value)
    {
        if (value.StartsWith("{\"id\":\"", StringComparison.Ordinal))
        {
            return value[7..value.IndexOf('"', 7)];
        }

        var dot = value.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? value : value[..dot];
    }
}
