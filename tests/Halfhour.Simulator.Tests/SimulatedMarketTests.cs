using Halfhour.Server.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Halfhour.Simulator.Tests;

public sealed class SimulatedMarketTests(ITestOutputHelper output)
{
    // The default run's size: the whole population (401 participants; enrolment and their webhook registrations are a good
    // part of the run), a thousand metering points, one day: about 3,300 messages and 12,000 copies.
    private const int SmallMpans = 1_000;

    [Fact]
    public Task A_day_of_the_whole_population_at_small_scale_reaches_every_stub_exactly_as_the_routing_rules_say() => RunAsync(SmallMpans, days: 1);

    [Fact]
    [Trait("Category", "Soak")]
    public Task Three_days_of_twenty_thousand_metering_points_reach_every_stub_exactly_as_the_routing_rules_say() => RunAsync(20_000, days: 3);

    private async Task RunAsync(int mpans, int days)
    {
        // On a memory file system where there is one: registering 401 participants and 2,100 webhooks fsyncs each change,
        // which on a shared disk costs more than the rest of the run; durability is not what this test is about.
        var data = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), "halfhour-sim-tests-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var server = await HalfhourServer.StartAsync([], b =>
            {
                b.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Halfhour:DataDirectory"] = data,
                    ["Halfhour:Port"] = "0",
                    // One backbone serves the whole simulated market from one process: no participant may be throttled.
                    ["Halfhour:Limits:RequestsPerSecond"] = "1000000",
                    ["Halfhour:Limits:RequestBurst"] = "1000000",
                });
                b.Logging.ClearProviders();
            });

            var report = await new MarketSimulation(new SimulationOptions
            {
                Url = server.BaseAddress,
                DataDirectory = data,
                Mpans = mpans,
                Days = days,
                OutageLength = TimeSpan.FromSeconds(3),
            }, new Progress(output)).RunAsync(CancellationToken.None);

            foreach (var row in report.Roles)
            {
                output.WriteLine($"{row.Role,-5} stubs {row.Stubs,3} expected {row.Expected,6} received {row.Received,6} missing {row.Missing} unexpected {row.Unexpected} out-of-order {row.OutOfOrder} dup {row.Duplicates} replayed {row.Replayed} mismarked {row.ReplayMisMarked} differ {row.RecipientsDiffer} answered {row.Answered}/{row.AnswersDue} statuses {row.StatusesReceived}/{row.StatusesExpected} faults {row.Faults}");
            }

            foreach (var example in report.Examples) output.WriteLine(example);
            output.WriteLine($"publish {report.PublishSeconds:0.0} s, deliver {report.DeliverSeconds:0.0} s; published {string.Join(", ", report.Published.Select(p => $"{p.Key}={p.Value}"))}");

            Assert.Equal(401, report.Participants); // the reference model's population
            Assert.Equal(["ADS", "DCC", "ECS", "EES", "ISD", "LDSO", "LSS", "MDR", "MDS", "MSA", "MSS", "REGS", "SDS", "SUP", "UMSDS", "UMSO", "VAS"], report.Roles.Select(r => r.Role).Order());
            Assert.Empty(report.Refused);
            Assert.All(report.Roles, row => Assert.True(row.Conforms, $"{row.Role}: {row}"));
            Assert.Equal(mpans, report.Published["IF-036"]);
            Assert.True(report.Published["IF-021"] > mpans * days * 9 / 10, "consumption for most MPANs (one in fifty is defaulted instead)");
            Assert.True(report.Published["IF-013"] > 0, "some consumption defaulted by the market-wide data service");
            Assert.Contains(report.Roles, r => r.Role == "SUP" && r.Replayed > 0);
            // The data and metering service appointment flows after a change of supplier, answered by suppliers, registration,
            // data and metering services of every segment; and rejections.
            foreach (var channel in (string[])["IF-031", "IF-032", "IF-033", "IF-034", "IF-035"]) Assert.True(report.Published.GetValueOrDefault(channel) > 0, channel);
            Assert.All(["SUP", "REGS", "SDS", "ADS", "UMSDS", "MSS", "MSA", "UMSO"], role =>
            {
                var row = report.Roles.Single(r => r.Role == role);
                Assert.True(row.AnswersDue > 0 && row.Answered == row.AnswersDue, $"{role}: answered {row.Answered} of {row.AnswersDue}");
            });
            // Each change of supplier asks for two appointments, each answered by the proposed service: as many IF-034 as IF-031.
            Assert.Equal(report.Published["IF-031"], report.Published["IF-034"]);
            // A data service owes only IF-034s: the metering services owe as many as the data services.
            Assert.Equal(report.Roles.Where(r => r.Role is "SDS" or "ADS" or "UMSDS").Sum(r => r.AnswersDue), report.Roles.Where(r => r.Role is "MSS" or "MSA" or "UMSO").Sum(r => r.AnswersDue));
            Assert.True(report.Roles.Where(r => r.Role is "SDS" or "ADS" or "UMSDS").Sum(r => r.StatusesExpected) > 0, "suppliers rejected some consumption");
            Assert.NotEmpty(report.Outages);
            Assert.All(report.Outages, o => Assert.True(o.HeldBack > 0 && o.ArrivedAfter == o.HeldBack, o.ToString()));
            Assert.True(report.Conforms);
        }
        finally
        {
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Writes when each long task starts, so a slow run shows where its time went.</summary>
    private sealed class Progress(ITestOutputHelper output) : ISimulationProgress
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

        public void Start(string task, long total) => output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s: {task} ({total:N0})");

        public void Report(string task, long done)
        {
        }
    }
}
