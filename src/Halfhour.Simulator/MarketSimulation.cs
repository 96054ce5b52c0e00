using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using System.Security.Cryptography.X509Certificates;
using Halfhour.Market.Appointments;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Participants;
using Halfhour.Simulator.Conformance;
using Halfhour.Simulator.Population;
using Halfhour.Simulator.Stubs;
using Halfhour.Simulator.Traffic;
using Halfhour.Simulator.Transport;

namespace Halfhour.Simulator;

/// <summary>What to simulate, and against which backbone.</summary>
public sealed record SimulationOptions
{
    /// <summary>The backbone's base address.</summary>
    public required Uri Url { get; init; }

    /// <summary>The backbone's data directory: its sandbox CA (certificate and key), backbone certificate and operator key.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Metering points.</summary>
    public int Mpans { get; init; } = 10_000;

    /// <summary>Consumption (settlement) days, the last one yesterday.</summary>
    public int Days { get; init; } = 1;

    /// <summary>The participants.</summary>
    public PopulationOptions Population { get; init; } = new();

    /// <summary>Industry standing data notices broadcast to everyone.</summary>
    public int StandingDataNotices { get; init; } = 2;

    /// <summary>Webhook stubs taken down for a while during the consumption days.</summary>
    public int Outages { get; init; } = 3;

    /// <summary>How long an outage lasts.</summary>
    public TimeSpan OutageLength { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Requests publishing (or registering webhooks) at once.</summary>
    public int Connections { get; init; } = 8;

    /// <summary>How long to wait for every expected copy after the last publication.</summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromMinutes(3);

    /// <summary>Stubs (of those receiving consumption) that ask for a replay at the end, to check replays are marked.</summary>
    public int Replays { get; init; } = 3;
}

/// <summary>Progress of a long run, for a console to show: a task with a total, advanced as work is done.</summary>
public interface ISimulationProgress
{
    /// <summary>A task starts with <paramref name="total"/> units of work.</summary>
    void Start(string task, long total);

    /// <summary>The task has done <paramref name="done"/> units so far.</summary>
    void Report(string task, long done);
}

/// <summary>
/// A whole simulated market against a backbone: enrols every participant with its own credentials, gives each a stub
/// that receives by webhook or by pull on every channel its role receives, drives registrations, then each consumption
/// day (with the market-wide data service's defaults and rejections), then standing-data notices, takes a few webhook
/// stubs down for a while and brings them back, asks for some replays, and finally checks every stub received exactly
/// what the routing rules (<see cref="RoutingModel"/>) say: see <see cref="ConformanceReport"/>. Stubs answer as their
/// roles do (<see cref="RoleBehaviour"/>): the appointment flow a change of supplier starts, and status messages for
/// the consumption a supplier rejects; conformance checks every answer owed was sent and reached its recipients.
/// </summary>
public sealed class MarketSimulation
{
    /// <summary>The channels the simulated market uses.</summary>
    public static readonly IReadOnlyList<string> Channels = ["IF-001", "IF-013", "IF-014", "IF-021", "IF-036", "IF-047", .. RoleBehaviour.AnswerChannels];

    // The roles that receive status messages here: the data services, whose consumption suppliers reject.
    private static readonly Role[] StatusRecipients = [Role.SDS, Role.ADS, Role.UMSDS];

    // The DIP's customary batch, and the push size each webhook asks for.
    private const int BatchSize = 100;

    // A pull stub's long poll: long enough to cost little while idle, short enough to end a run within seconds.
    private const int PullWaitSeconds = 2;

    // After every expected copy has arrived, wait this long for copies that should not come, before counting.
    private static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(2);

    // At most this many discrepancies are described in words.
    private const int MaxExamples = 20;

    private readonly SimulationOptions _options;
    private readonly ISimulationProgress? _progress;
    private readonly ConcurrentDictionary<string, SentMessage> _sent = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _refused = new();
    private readonly ConcurrentDictionary<string, long> _published = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _expected = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<ReceivedStatus>> _expectedStatuses = new(StringComparer.Ordinal);
    private readonly List<Owed> _due = [];
    private readonly ConcurrentDictionary<Owed, byte> _answered = new();
    private readonly ConcurrentQueue<Accepted> _answersToRoute = new();
    private readonly Channel<Answer> _answers = Channel.CreateUnbounded<Answer>();
    private readonly Channel<StatusAnswer> _statuses = Channel.CreateUnbounded<StatusAnswer>();
    private long _sequence;

    /// <summary>A simulation; <paramref name="progress"/> hears of long work.</summary>
    public MarketSimulation(SimulationOptions options, ISimulationProgress? progress = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _progress = progress;
    }

    /// <summary>One accepted message: its channel, MPAN, place in the run's order and the recipients the rules give.</summary>
    private sealed record SentMessage(string Channel, long Mpan, long Sequence, string[] Recipients, DateTimeOffset AcceptedAt);

    /// <summary>Runs the market and checks it.</summary>
    public async Task<ConformanceReport> RunAsync(CancellationToken cancellationToken)
    {
        var sandbox = Path.Combine(_options.DataDirectory, "sandbox");
        if (!File.Exists(Path.Combine(sandbox, "ca-key.pem")) || !File.Exists(Path.Combine(sandbox, "backbone.pem")))
        {
            throw new InvalidOperationException($"{sandbox} has no ca-key.pem and backbone.pem; give the data directory of the backbone being simulated against.");
        }

        var environment = MarketEnvironment.DEV;
        var population = new MarketPopulation(_options.Population, environment);
        _progress?.Start("enrol participants", population.Participants.Count);
        var enrolledCount = 0;
        var enrolled = await Enrolment.EnrolAsync(_options.Url, _options.DataDirectory, population,
            () => _progress?.Report("enrol participants", Interlocked.Increment(ref enrolledCount)), cancellationToken).ConfigureAwait(false);

        // The rules route broadcasts to everyone registered in the environment, the sandbox's participants included.
        var registered = await Enrolment.ListAsync(_options.Url, _options.DataDirectory, environment, cancellationToken).ConfigureAwait(false);
        var ours = population.Participants.Select(p => p.DipId).ToHashSet(StringComparer.Ordinal);
        var model = new RoutingModel(new ParticipantDirectory([.. population.Participants, .. registered.Where(p => !ours.Contains(p.DipId))]), environment);

        var trust = Enrolment.Trust(_options.DataDirectory);
        var behaviour = new RoleBehaviour(population);
        var inboxes = enrolled.ToDictionary(e => e.Participant.DipId, e => new StubInbox
        {
            DipId = e.Participant.DipId,
            OnFirstCopy = (copy, message) => Answer(behaviour, e.Participant, copy, message),
        }, StringComparer.Ordinal);
        foreach (var dipId in inboxes.Keys)
        {
            _expected[dipId] = new HashSet<string>(StringComparer.Ordinal);
            _expectedStatuses[dipId] = [];
        }

        var connections = enrolled.ToDictionary(e => e.Participant.DipId, e => new ParticipantConnection(_options.Url, trust, e.Certificate, e.ApiKey), StringComparer.Ordinal);
        using var backboneCertificate = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Path.Combine(sandbox, "backbone.pem"), cancellationToken).ConfigureAwait(false));
        await using var hooks = await WebhookStubHost.StartAsync(inboxes, backboneCertificate, cancellationToken).ConfigureAwait(false);
        using var stopPulling = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pulls = new List<Task>();
        var answering = Task.CompletedTask;
        try
        {
            await SubscribeAsync(population, enrolled, connections, inboxes, hooks, pulls, stopPulling.Token, cancellationToken).ConfigureAwait(false);
            answering = Task.WhenAll(
                Task.Run(() => PublishAnswersAsync(model, connections, stopPulling.Token), CancellationToken.None),
                Task.Run(() => SendStatusesAsync(connections, inboxes, stopPulling.Token), CancellationToken.None));
            var clock = Stopwatch.StartNew();
            var traffic = new MarketTraffic(population, _options.Mpans, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), DateOnly.FromDateTime(DateTime.UtcNow));
            var phases = Phases(traffic).ToList();
            _progress?.Start("publish", traffic.Count(_options.Days, _options.StandingDataNotices));
            long published = 0;
            var outages = new List<(StubInbox Inbox, DateTimeOffset Down, DateTimeOffset Up)>();
            var candidates = enrolled.Where(e => e.Participant.Role is Role.SUP or Role.LDSO && population.ReceptionOf(e.Participant.DipId) == Reception.Webhook)
                .Select(e => inboxes[e.Participant.DipId]).Take(_options.Outages).ToList();
            foreach (var (name, messages) in phases)
            {
                // The outages start with the first consumption day and end a while after it was published.
                var outage = name == "consumption day 1" ? candidates : [];
                var down = DateTimeOffset.UtcNow;
                foreach (var inbox in outage) inbox.IsDown = true;
                await PublishPhaseAsync(messages, model, connections, () => _progress?.Report("publish", Interlocked.Increment(ref published)), cancellationToken).ConfigureAwait(false);
                if (outage.Count > 0)
                {
                    var remaining = _options.OutageLength - (DateTimeOffset.UtcNow - down);
                    if (remaining > TimeSpan.Zero) await Task.Delay(remaining, cancellationToken).ConfigureAwait(false);
                    var up = DateTimeOffset.UtcNow;
                    foreach (var inbox in outage)
                    {
                        inbox.IsDown = false;
                        outages.Add((inbox, down, up));
                    }
                }
            }

            var publishSeconds = clock.Elapsed.TotalSeconds;
            await AwaitDeliveryAsync(model, inboxes, cancellationToken).ConfigureAwait(false);
            var deliverSeconds = clock.Elapsed.TotalSeconds;
            await Task.Delay(QuietPeriod, cancellationToken).ConfigureAwait(false);
            RouteAnswers(model);
            var replayed = await ReplayAsync(population, connections, _expected, cancellationToken).ConfigureAwait(false);
            await stopPulling.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(pulls).ConfigureAwait(false);
            await answering.ConfigureAwait(false);
            return Report(population, inboxes, _expected, replayed, outages, publishSeconds, deliverSeconds);
        }
        finally
        {
            await stopPulling.CancelAsync().ConfigureAwait(false);
            _answers.Writer.TryComplete();
            _statuses.Writer.TryComplete();
            foreach (var connection in connections.Values) connection.Dispose();
            foreach (var e in enrolled) e.Certificate.Dispose();
        }
    }

    /// <summary>The phases in the market's order: registrations before anything about the MPANs, then each day, then notices.</summary>
    private IEnumerable<(string Name, IEnumerable<PlannedMessage> Messages)> Phases(MarketTraffic traffic)
    {
        yield return ("registrations", traffic.Registrations());
        yield return ("appointments", traffic.Appointments());
        yield return ("changes of supplier", traffic.ChangesOfSupplier());
        for (var day = 0; day < _options.Days; day++)
        {
            yield return ($"consumption day {day + 1}", traffic.Consumption(day, _options.Days));
            yield return ($"defaults and rejections day {day + 1}", traffic.Settlement(day));
        }

        yield return ("standing data", traffic.StandingDataNotices(_options.StandingDataNotices));
    }

    /// <summary>The channels a role receives, of those the simulated market uses.</summary>
    public static IEnumerable<string> ChannelsOf(Role role) =>
        Channels.Where(c => InterfaceCatalogue.Specification.TryGet(c, out var d) && d.ReceivingRoles.Contains(role));

    private async Task SubscribeAsync(MarketPopulation population, IReadOnlyList<EnrolledParticipant> enrolled, Dictionary<string, ParticipantConnection> connections,
        Dictionary<string, StubInbox> inboxes, WebhookStubHost hooks, List<Task> pulls, CancellationToken stopPulling, CancellationToken cancellationToken)
    {
        var existing = enrolled.Where(e => e.WasRegistered).Select(e => e.Participant.DipId).ToHashSet(StringComparer.Ordinal);
        var subscriptions = population.Participants
            .SelectMany(p => ChannelsOf(p.Role).Concat(StatusRecipients.Contains(p.Role) ? [WebhookStubHost.StatusChannel] : []).Select(channel => (Participant: p, Channel: channel)))
            .ToList();
        _progress?.Start("subscribe stubs", subscriptions.Count);
        var done = 0;
        await Parallel.ForEachAsync(subscriptions, new ParallelOptions { MaxDegreeOfParallelism = _options.Connections, CancellationToken = cancellationToken }, async (s, token) =>
        {
            var dipId = s.Participant.DipId;
            var status = s.Channel == WebhookStubHost.StatusChannel;
            if (population.ReceptionOf(dipId) == Reception.Webhook)
            {
                if (status) await connections[dipId].SetStatusWebhookAsync(dipId, hooks.CallbackOf(dipId, s.Channel), BatchSize, token).ConfigureAwait(false);
                else await connections[dipId].SetWebhookAsync(s.Channel, dipId, hooks.CallbackOf(dipId, s.Channel), BatchSize, token).ConfigureAwait(false);
            }
            else
            {
                // A pull stub takes its messages off the webhook path, should an earlier run have left one registered.
                if (existing.Contains(dipId) && !status) await connections[dipId].SetWebhookAsync(s.Channel, dipId, null, BatchSize, token).ConfigureAwait(false);
                lock (pulls) pulls.Add(Task.Run(() => PullAsync(connections[dipId], s.Channel, inboxes[dipId], stopPulling), CancellationToken.None));
            }

            _progress?.Report("subscribe stubs", Interlocked.Increment(ref done));
        }).ConfigureAwait(false);
    }

    private static async Task PullAsync(ParticipantConnection connection, string channel, StubInbox inbox, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var pulled = await connection.PullAsync(channel, BatchSize * 5, PullWaitSeconds, cancellationToken).ConfigureAwait(false);
                if (pulled.Count == 0) continue;
                foreach (var message in pulled)
                {
                    if (channel == WebhookStubHost.StatusChannel) inbox.RecordStatus(message.Message);
                    else inbox.Record(channel, message.Message);
                }

                await connection.AcknowledgeAsync(channel, [.. pulled.Select(p => p.Receipt)], cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException e)
            {
                inbox.Fault($"pulling {channel}: {e.Message}");
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private async Task PublishPhaseAsync(IEnumerable<PlannedMessage> messages, RoutingModel model, Dictionary<string, ParticipantConnection> connections, Action published,
        CancellationToken cancellationToken)
    {
        // Send the phase, then route what was accepted, each message as of the day it was accepted, against the book as
        // it was before the phase (a phase has one message per MPAN and channel, so no message of it changes another's
        // routing), then apply the phase's registrations, as the backbone does.
        var planned = messages.Select(m => (Message: m, Sequence: Interlocked.Increment(ref _sequence))).ToList();
        var accepted = new ConcurrentBag<Accepted>();
        var batches = planned.GroupBy(p => (p.Message.SenderDipId, p.Message.Channel)).SelectMany(g => g.Chunk(BatchSize)).ToList();
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = _options.Connections, CancellationToken = cancellationToken }, async (batch, token) =>
        {
            foreach (var result in await PublishBatchAsync(connections, batch, token).ConfigureAwait(false)) accepted.Add(result);
            foreach (var _ in batch) published();
        }).ConfigureAwait(false);

        lock (model)
        {
            foreach (var message in accepted) Expect(model, message);
            foreach (var (message, _) in planned)
            {
                if (AppointmentMessages.Interfaces.Contains(message.Channel)) model.Apply(message);
            }
        }
    }

    /// <summary>A message the backbone accepted: what was sent, its transaction ID, its place in the run's order, and when.</summary>
    private sealed record Accepted(PlannedMessage Message, string TransactionId, long Sequence, DateTimeOffset AcceptedAt);

    /// <summary>Publishes one batch of one sender on one channel; the accepted messages (the refused are noted).</summary>
    private async Task<List<Accepted>> PublishBatchAsync(Dictionary<string, ParticipantConnection> connections, IReadOnlyList<(PlannedMessage Message, long Sequence)> batch,
        CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>(batch.Sum(b => b.Message.Bytes.Length + 1) + 2);
        body.Write("["u8);
        for (var i = 0; i < batch.Count; i++)
        {
            if (i > 0) body.Write(","u8);
            body.Write(batch[i].Message.Bytes);
        }

        body.Write("]"u8);
        var first = batch[0].Message;
        var results = await connections[first.SenderDipId].PublishAsync(first.Channel, body.WrittenMemory, cancellationToken).ConfigureAwait(false);
        var accepted = new List<Accepted>(batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            var (message, sequence) = batch[i];
            var result = i < results.Count ? results[i] : null;
            if (result?.Message?.StartsWith("MSG0000", StringComparison.Ordinal) == true && result.TransactionId is { } transactionId)
            {
                accepted.Add(new Accepted(message, transactionId, sequence, DateTimeOffset.UtcNow));
                _published.AddOrUpdate(message.Channel, 1, (_, n) => n + 1);
            }
            else
            {
                _refused.Enqueue($"{message.Channel} from {message.SenderDipId} (MPAN {message.Mpan}): {result?.Message ?? "no result"} {result?.Help}");
            }
        }

        return accepted;
    }

    /// <summary>
    /// Routes an accepted message as the rules say, as of the day the backbone accepted it, and expects its copies, the
    /// answers it is owed and the status messages its sender should get. Under the model's lock.
    /// </summary>
    private void Expect(RoutingModel model, Accepted accepted)
    {
        var (message, transactionId, sequence, acceptedAt) = accepted;
        var recipients = model.Recipients(message, RoutingModel.DayOf(transactionId));
        _sent[transactionId] = new SentMessage(message.Channel, message.Mpan, sequence, recipients, acceptedAt);
        foreach (var recipient in recipients)
        {
            if (_expected.TryGetValue(recipient, out var set)) set.Add(transactionId);
        }

        foreach (var due in RoleBehaviour.Due(message.Channel, message.EventCode, message.Mpan, message.Primary))
        {
            if (!_expected.ContainsKey(due.ResponderDipId)) continue;
            _due.Add(new Owed(due.ResponderDipId, transactionId, due.Kind));
            if (due.Kind == RoleBehaviour.Status) _expectedStatuses[message.SenderDipId].Add(new ReceivedStatus(transactionId, due.ResponderDipId));
        }
    }

    /// <summary>A stub's answers to a message it received for the first time, queued to be sent.</summary>
    private void Answer(RoleBehaviour behaviour, Participant self, ReceivedCopy copy, JsonElement message)
    {
        var (answers, status) = behaviour.React(self, copy, message);
        foreach (var answer in answers) _answers.Writer.TryWrite(answer);
        if (status is not null) _statuses.Writer.TryWrite(status);
    }

    /// <summary>Sends the stubs' answers as they come, a batch per sender and channel; they are routed once every phase is done.</summary>
    private async Task PublishAnswersAsync(RoutingModel model, Dictionary<string, ParticipantConnection> connections, CancellationToken cancellationToken)
    {
        try
        {
            while (await _answers.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var ready = new List<(PlannedMessage Message, long Sequence)>();
                var triggers = new Dictionary<PlannedMessage, string>(ReferenceEqualityComparer.Instance);
                while (ready.Count < BatchSize * _options.Connections && _answers.Reader.TryRead(out var answer))
                {
                    ready.Add((answer.Message, 0));
                    triggers[answer.Message] = answer.TriggerTransactionId;
                }

                var batches = ready.GroupBy(a => (a.Message.SenderDipId, a.Message.Channel)).SelectMany(g => g.Chunk(BatchSize)).ToList();
                var accepted = new ConcurrentBag<Accepted>();
                await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = _options.Connections, CancellationToken = cancellationToken }, async (batch, token) =>
                {
                    try
                    {
                        foreach (var result in await PublishBatchAsync(connections, batch, token).ConfigureAwait(false)) accepted.Add(result);
                    }
                    catch (HttpRequestException e)
                    {
                        foreach (var (message, _) in batch) _refused.Enqueue($"{message.Channel} answer from {message.SenderDipId} (MPAN {message.Mpan}): {e.Message}");
                    }
                }).ConfigureAwait(false);

                // Answers of different senders about one MPAN (a data and a metering service's IF-034s) are sent at once:
                // the backbone's storage order is their order, so the round is numbered in it (rounds follow each other).
                // Under the model's lock: the wait for delivery must never see an answer sent but not yet routed, or it
                // could end before the answers this one is owed were expected.
                lock (model)
                {
                    foreach (var result in accepted.OrderBy(a => RoutingModel.StorageOrderOf(a.TransactionId)))
                    {
                        _answersToRoute.Enqueue(result with { Sequence = Interlocked.Increment(ref _sequence) });
                        _answered[new Owed(result.Message.SenderDipId, triggers[result.Message], RoleBehaviour.KindOf(result.Message.Channel, result.Message.EventCode))] = 0;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Sends the stubs' status messages as they come, a request per sender.</summary>
    private async Task SendStatusesAsync(Dictionary<string, ParticipantConnection> connections, Dictionary<string, StubInbox> inboxes, CancellationToken cancellationToken)
    {
        try
        {
            while (await _statuses.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var ready = new List<StatusAnswer>();
                while (ready.Count < BatchSize * _options.Connections && _statuses.Reader.TryRead(out var status)) ready.Add(status);
                var batches = ready.GroupBy(s => s.SenderDipId).SelectMany(g => g.Chunk(BatchSize)).ToList();
                await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = _options.Connections, CancellationToken = cancellationToken }, async (batch, token) =>
                {
                    try
                    {
                        await connections[batch[0].SenderDipId].SendStatusAsync([.. batch.Select(RoleBehaviour.StatusMessage)], token).ConfigureAwait(false);
                        foreach (var status in batch) _answered[new Owed(status.SenderDipId, status.TransactionId, RoleBehaviour.Status)] = 0;
                    }
                    catch (HttpRequestException e)
                    {
                        inboxes[batch[0].SenderDipId].Fault($"sending {batch.Length} status messages: {e.Message}");
                    }
                }).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>An answer owed, and once sent, recorded: who answers, the message answered, and with what (an interface and event, or a status message).</summary>
    private sealed record Owed(string ResponderDipId, string TriggerTransactionId, string Kind);

    /// <summary>Routes the answers accepted so far (after the phases: no registration can change their routing any more).</summary>
    private void RouteAnswers(RoutingModel model)
    {
        lock (model)
        {
            while (_answersToRoute.TryDequeue(out var answer)) Expect(model, answer);
        }
    }

    /// <summary>Waits until every answer owed was sent and every copy and status message expected arrived, or the delivery timeout.</summary>
    private async Task AwaitDeliveryAsync(RoutingModel model, Dictionary<string, StubInbox> inboxes, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        var total = -1L;
        while (deadline.Elapsed < _options.DeliveryTimeout)
        {
            long expected = 0, arrived = 0;
            var complete = true;
            lock (model)
            {
                RouteAnswers(model);
                foreach (var (dipId, inbox) in inboxes)
                {
                    var distinct = inbox.Distinct;
                    var statuses = inbox.Statuses.Count;
                    expected += _expected[dipId].Count + _expectedStatuses[dipId].Count;
                    arrived += Math.Min(distinct, _expected[dipId].Count) + Math.Min(statuses, _expectedStatuses[dipId].Count);
                    complete &= distinct >= _expected[dipId].Count && statuses >= _expectedStatuses[dipId].Count;
                }

                complete &= _due.TrueForAll(_answered.ContainsKey);
            }

            // The answers the stubs send add to what is expected as they go.
            if (expected != total) _progress?.Start("deliver", total = expected);
            _progress?.Report("deliver", arrived);
            if (complete) return;
            await Task.Delay(250, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Some consumption recipients ask for a replay of a few of their messages; each replayed copy must be marked so.</summary>
    private async Task<Dictionary<string, (long Replayed, long Wrong, List<string> Problems)>> ReplayAsync(MarketPopulation population,
        Dictionary<string, ParticipantConnection> connections, Dictionary<string, HashSet<string>> expected, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, (long, long, List<string>)>(StringComparer.Ordinal);
        var askers = population.Participants.Where(p => p.Role is Role.SUP or Role.LDSO && expected[p.DipId].Count > 0).Take(_options.Replays);
        foreach (var asker in askers)
        {
            var wanted = expected[asker.DipId].Where(t => _sent[t].Channel == "IF-021").Take(10).ToList();
            if (wanted.Count == 0) continue;
            var problems = new List<string>();
            long wrong = 0;
            var replayed = await connections[asker.DipId].ReplayAsync("IF-021", asker.DipId, wanted, cancellationToken).ConfigureAwait(false);
            var got = new HashSet<string>(StringComparer.Ordinal);
            foreach (var message in replayed)
            {
                var copy = StubInbox.Read("IF-021", message, DateTimeOffset.UtcNow);
                got.Add(copy.TransactionId);
                if (!copy.Replay)
                {
                    wrong++;
                    problems.Add($"{asker.DipId}: replayed {copy.TransactionId} is not marked replayIndicator=true");
                }
            }

            if (!got.SetEquals(wanted))
            {
                wrong += wanted.Count(t => !got.Contains(t)) + got.Count(t => !wanted.Contains(t));
                problems.Add($"{asker.DipId}: asked to replay {wanted.Count} messages, got {got.Count} ({got.Intersect(wanted).Count()} of those asked)");
            }

            result[asker.DipId] = (replayed.Count, wrong, problems);
        }

        return result;
    }

    private ConformanceReport Report(MarketPopulation population, Dictionary<string, StubInbox> inboxes, Dictionary<string, HashSet<string>> expected,
        Dictionary<string, (long Replayed, long Wrong, List<string> Problems)> replays, List<(StubInbox Inbox, DateTimeOffset Down, DateTimeOffset Up)> outages,
        double publishSeconds, double deliverSeconds)
    {
        var examples = new List<string>();
        void Example(string text)
        {
            if (examples.Count < MaxExamples) examples.Add(text);
        }

        var rows = new List<RoleConformance>();
        var owedBy = _due.ToLookup(d => d.ResponderDipId, StringComparer.Ordinal);
        foreach (var role in population.Participants.GroupBy(p => p.Role).OrderBy(g => g.Key))
        {
            long expectedCount = 0, received = 0, missing = 0, unexpected = 0, outOfOrder = 0, duplicates = 0, misMarked = 0, replayed = 0, differ = 0, faults = 0;
            long answersDue = 0, answered = 0, statusesExpected = 0, statusesReceived = 0;
            foreach (var participant in role)
            {
                var inbox = inboxes[participant.DipId];
                var wanted = expected[participant.DipId];
                var seen = new HashSet<string>(StringComparer.Ordinal);
                var lastSequence = new Dictionary<(string, long), long>();
                foreach (var copy in inbox.Copies)
                {
                    if (copy.Replay)
                    {
                        misMarked++;
                        Example($"{role.Key} {participant.DipId}: {copy.TransactionId} was delivered marked as a replay");
                    }

                    if (!seen.Add(copy.TransactionId))
                    {
                        duplicates++;
                        continue;
                    }

                    if (!wanted.Contains(copy.TransactionId) || !_sent.TryGetValue(copy.TransactionId, out var sent))
                    {
                        unexpected++;
                        Example($"{role.Key} {participant.DipId}: received {copy.Channel} {copy.TransactionId} (MPAN {copy.Mpan}), which the rules do not route to it");
                        continue;
                    }

                    received++;
                    if (!new HashSet<string>(copy.Recipients, StringComparer.Ordinal).SetEquals(sent.Recipients))
                    {
                        differ++;
                        Example($"{role.Key} {participant.DipId}: {copy.Channel} {copy.TransactionId} lists recipients [{string.Join(",", copy.Recipients.Order())}], the rules give [{string.Join(",", sent.Recipients.Order())}]");
                    }

                    if (sent.Mpan != 0)
                    {
                        var key = (copy.Channel, sent.Mpan);
                        if (lastSequence.TryGetValue(key, out var last) && last > sent.Sequence)
                        {
                            outOfOrder++;
                            Example($"{role.Key} {participant.DipId}: {copy.Channel} {copy.TransactionId} for MPAN {sent.Mpan} arrived after a later message of that MPAN");
                        }

                        lastSequence[key] = Math.Max(last, sent.Sequence);
                    }
                }

                foreach (var transactionId in wanted)
                {
                    if (seen.Contains(transactionId)) continue;
                    missing++;
                    var sent = _sent[transactionId];
                    Example($"{role.Key} {participant.DipId}: never received {sent.Channel} {transactionId} (MPAN {sent.Mpan})");
                }

                foreach (var owed in owedBy[participant.DipId])
                {
                    answersDue++;
                    if (_answered.ContainsKey(owed)) answered++;
                    else Example($"{role.Key} {participant.DipId}: never answered {_sent[owed.TriggerTransactionId].Channel} {owed.TriggerTransactionId} with {owed.Kind}");
                }

                var wantedStatuses = _expectedStatuses[participant.DipId];
                statusesExpected += wantedStatuses.Count;
                foreach (var status in inbox.Statuses.Distinct())
                {
                    if (wantedStatuses.Contains(status))
                    {
                        statusesReceived++;
                        continue;
                    }

                    unexpected++;
                    Example($"{role.Key} {participant.DipId}: received a status message from {status.SenderDipId} about {status.TransactionId}, which nobody owed it");
                }

                foreach (var fault in inbox.Faults)
                {
                    faults++;
                    Example($"{role.Key} {participant.DipId}: {fault}");
                }

                if (replays.TryGetValue(participant.DipId, out var replay))
                {
                    replayed += replay.Replayed;
                    misMarked += replay.Wrong;
                    foreach (var problem in replay.Problems) Example(problem);
                }

                expectedCount += wanted.Count;
            }

            rows.Add(new RoleConformance
            {
                Role = role.Key.ToString(), Stubs = role.Count(), Expected = expectedCount, Received = received, Missing = missing, Unexpected = unexpected,
                OutOfOrder = outOfOrder, Duplicates = duplicates, ReplayMisMarked = misMarked, Replayed = replayed, RecipientsDiffer = differ, Faults = faults,
                AnswersDue = answersDue, Answered = answered, StatusesExpected = statusesExpected, StatusesReceived = statusesReceived,
            });
        }

        var outageResults = new List<OutageResult>();
        foreach (var (inbox, down, up) in outages)
        {
            var held = expected[inbox.DipId].Where(t => _sent[t].AcceptedAt >= down && _sent[t].AcceptedAt <= up).ToHashSet(StringComparer.Ordinal);
            var after = inbox.Copies.Where(c => held.Contains(c.TransactionId) && c.ArrivedAt >= up).Select(c => c.TransactionId).Distinct().LongCount();
            outageResults.Add(new OutageResult(inbox.DipId, population.Find(inbox.DipId).Role.ToString(), (up - down).TotalSeconds, held.Count, after));
        }

        foreach (var refusal in _refused) Example("refused: " + refusal);
        return new ConformanceReport
        {
            Participants = population.Participants.Count, Mpans = _options.Mpans, Days = _options.Days,
            Published = _published.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal),
            Refused = [.. _refused], PublishSeconds = publishSeconds, DeliverSeconds = deliverSeconds, Roles = rows, Outages = outageResults, Examples = examples,
        };
    }
}
