using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Halfhour.Client.Contract;
using Xunit.Abstractions;

namespace Halfhour.Server.Tests.Crash;

/// <summary>
/// The backbone as a real process, killed with SIGKILL at random moments while data services send signed IF-021
/// batches and every recipient pulls and acknowledges, then started again on the same data directory. After the
/// last start: every message answered MSG0000 or MSG0001 reaches each of its recipients at least once, nothing
/// else is delivered, a message's copies all carry its one transaction ID, and a batch whose answer was lost,
/// sent again with the same sender unique references, is answered success or duplicate with the original ID.
/// </summary>
public sealed class ServerCrashTests(ITestOutputHelper output)
{
    // Messages per batch: small, so a kill often lands between the append and the answer of some batch.
    private const int BatchSize = 20;

    // Concurrent senders per data service: several requests in flight when the kill comes.
    private const int SendersPerDataService = 2;

    [Fact]
    public Task Killed_server_delivers_every_accepted_message_and_nothing_else() => RunAsync(kills: 10, budget: TimeSpan.FromSeconds(150));

    [Fact]
    [Trait("Category", "Soak")]
    public Task Killed_server_delivers_every_accepted_message_and_nothing_else_soak() => RunAsync(kills: 60, budget: TimeSpan.FromMinutes(10));

    private async Task RunAsync(int kills, TimeSpan budget)
    {
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var data = Path.Combine(Path.GetTempPath(), "halfhour-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var clock = Stopwatch.StartNew();
        using var server = new ServerProcess(data);
        try
        {
            await server.StartAsync();
            using var market = await CrashMarket.EnrolAsync(server);
            var ledger = new DeliveryLedger(market);
            using var stopSending = new CancellationTokenSource();
            using var stopPulling = new CancellationTokenSource();
            var senders = market.Roster.DataServices
                .SelectMany(dipId => Enumerable.Range(0, SendersPerDataService).Select(k => SendAsync(market, ledger, dipId, k, stopSending.Token)))
                .ToList();
            var pullers = market.Recipients.Select(r => PullAsync(r, ledger, stopPulling.Token)).ToList();

            // Kill at random moments (0.3 to 2.5 s after the server is ready): while batches are in flight, between
            // an append and its answer, during a pull. The budget bounds a machine too slow to restart in time.
            var restarts = new List<double>();
            var done = 0;
            for (; done < kills && clock.Elapsed < budget * 0.75; done++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(300, 2500)));
                await server.KillAsync();
                ledger.Kills++;
                var restart = Stopwatch.StartNew();
                await server.StartAsync();
                restarts.Add(restart.Elapsed.TotalSeconds);
            }

            // Let the senders finish: each completes its batch in hand (retrying until answered) and stops.
            await stopSending.CancelAsync();
            await Task.WhenAll(senders);

            // Then wait for every recipient to have pulled every accepted message.
            var drain = Stopwatch.StartNew();
            while (ledger.Missing().Count > 0 && drain.Elapsed < TimeSpan.FromSeconds(30) && clock.Elapsed < budget)
            {
                await Task.Delay(250);
            }

            await stopPulling.CancelAsync();
            await Task.WhenAll(pullers);

            var missing = ledger.Missing();
            output.WriteLine($"seed {seed}: {done} kills in {clock.Elapsed.TotalSeconds:N0} s (restarts {restarts.DefaultIfEmpty().Average():N1} s on average); {ledger.Accepted.Count} messages accepted ({ledger.Duplicates} answered as duplicates), " +
                $"{ledger.Unanswered} requests unanswered and sent again, {ledger.DeliveryCount} copies pulled, {missing.Count} copies missing.");
            Assert.True(done >= kills, $"only {done} of {kills} kills fitted in the time budget");
            Assert.True(ledger.Accepted.Count > kills * BatchSize, $"too little was accepted to test anything: {ledger.Accepted.Count} messages");
            Assert.Empty(ledger.Violations.Take(10));
            Assert.True(missing.Count == 0, $"{missing.Count} accepted copies never delivered, e.g. {string.Join("; ", missing.Take(5))}");
        }
        catch
        {
            output.WriteLine($"seed {seed}; the server's last output:\n{server.RecentOutput}");
            throw;
        }
        finally
        {
            await server.KillAsync();
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (IOException)
            {
                // A leftover temp folder does not change the verdict.
            }
        }
    }

    /// <summary>
    /// One sender: batch after batch of the data service's own messages. A batch without an answer (the server died
    /// under it) is sent again, unchanged, until it is answered; a message refused for a transient reason (storage
    /// unavailable) is sent again too.
    /// </summary>
    /// <param name="market">The market.</param>
    /// <param name="ledger">Where answers are recorded.</param>
    /// <param name="dipId">The sending data service.</param>
    /// <param name="lane">Which of its concurrent senders this is (messages are numbered lane, lane + 2, …).</param>
    /// <param name="stop">Stops sending after the batch in hand.</param>
    /// <param name="clientFor">With several servers, the client of the sender for its n-th attempt (from 0); by default its one client.</param>
    /// <param name="beforeBatch">Awaited before each new batch (a test pausing the traffic); none by default.</param>
    internal static async Task SendAsync(CrashMarket market, DeliveryLedger ledger, string dipId, int lane, CancellationToken stop, Func<int, HttpClient>? clientFor = null,
        Func<CancellationToken, Task>? beforeBatch = null)
    {
        var sender = market.Sender(dipId);
        clientFor ??= _ => sender.Client;
        var attempt = 0;
        long number = lane;
        while (!stop.IsCancellationRequested)
        {
            if (beforeBatch is not null)
            {
                try
                {
                    await beforeBatch(stop);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
            }

            var batch = new List<long>(BatchSize);
            for (; batch.Count < BatchSize; number += SendersPerDataService)
            {
                if (market.Roster.DataServiceOf(market.Builder.MpanOf(number)) == dipId)
                {
                    batch.Add(number);
                }
            }

            var body = Encoding.UTF8.GetBytes("[" + string.Join(",", batch.Select(n => Encoding.UTF8.GetString(market.Builder.Build(n)))) + "]");
            var retried = false;
            while (true)
            {
                HttpResponseMessage response;
                try
                {
                    using var content = new ByteArrayContent(body) { Headers = { ContentType = new("application/json") } };
                    response = await clientFor(attempt++).PostAsync("dip-channel/IF-021", content, CancellationToken.None);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // Connection refused or reset: the batch may or may not be stored. Send it again, unchanged.
                    Interlocked.Increment(ref ledger.Unanswered);
                    retried = true;
                    await Task.Delay(200, CancellationToken.None);
                    continue;
                }

                using (response)
                {
                    var text = await response.Content.ReadAsStringAsync(CancellationToken.None);
                    if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.InternalServerError or HttpStatusCode.BadGateway)
                    {
                        await Task.Delay(200, CancellationToken.None);
                        continue;
                    }

                    if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.MultiStatus or HttpStatusCode.BadRequest)
                        || JsonSerializer.Deserialize<StandardResponse>(text) is not { } answer)
                    {
                        ledger.Violation($"batch from {dipId} answered {(int)response.StatusCode}: {text[..Math.Min(400, text.Length)]}");
                        return;
                    }

                    if (ledger.Record(batch, answer, retried))
                    {
                        break;
                    }

                    await Task.Delay(200, CancellationToken.None); // some message hit a transient refusal: send the batch again
                }
            }
        }
    }

    /// <summary>One recipient: pull, record, acknowledge, until told to stop; errors while the server is down are waited out.</summary>
    private static async Task PullAsync(CrashParticipant recipient, DeliveryLedger ledger, CancellationToken stop)
    {
        long pulls = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                // The pull number makes each signed GET unique, so two within one second are not refused as a replay.
                using var response = await recipient.Client.GetAsync($"native/v1/channels/IF-021/messages?max=100&waitSeconds=1&pull={++pulls}", stop);
                if (!response.IsSuccessStatusCode)
                {
                    await Task.Delay(200, stop);
                    continue;
                }

                using var document = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(stop));
                var receipts = new List<string>();
                foreach (var pulled in document.RootElement.GetProperty("messages").EnumerateArray())
                {
                    var transactionId = pulled.GetProperty("transactionID").GetString()!;
                    ledger.Delivered(recipient.DipId, transactionId, DeliveryLedger.ReferenceIn(pulled.GetProperty("message")));
                    receipts.Add(pulled.GetProperty("receipt").GetString()!);
                }

                if (receipts.Count > 0)
                {
                    using var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(new { receipts })) { Headers = { ContentType = new("application/json") } };
                    using var acknowledged = await recipient.Client.PostAsync("native/v1/channels/IF-021/acknowledgements", content, stop);
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OperationCanceledException)
            {
                if (!stop.IsCancellationRequested)
                {
                    await Task.Delay(200, CancellationToken.None);
                }
            }
        }
    }
}
