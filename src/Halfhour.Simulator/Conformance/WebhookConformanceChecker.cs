using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Halfhour.Broker.Delivery;
using Halfhour.Broker.Messages;
using Halfhour.Client.Transport;
using Halfhour.Market.Consumption;
using Halfhour.Market.Envelope;
using Halfhour.Market.Participants;
using Halfhour.Server.Push;

namespace Halfhour.Simulator.Conformance;

/// <summary>One check of a participant's webhook endpoint.</summary>
/// <param name="Name">What was checked.</param>
/// <param name="Passed">True when the endpoint behaved as the backbone needs.</param>
/// <param name="Detail">What it answered, and what to change when it failed.</param>
public sealed record WebhookCheck(string Name, bool Passed, string Detail);

/// <summary>
/// Calls a participant's own webhook endpoint the way the backbone will, with the backbone's own push code
/// (<see cref="HttpWebhookTransport"/>): signed pushes of one message and of a batch must be taken; the same
/// transaction ID pushed again must be taken again (idempotently, delivery is at least once); a batch holding a
/// message the endpoint refuses must be answered 201, or 207 with a StandardResponse that reports each message by
/// transaction ID (the backbone re-sends what a 207 does not report as MSG0000/MSG0001); and pushes that are
/// unsigned or signed by another certificate must be refused.
/// </summary>
public sealed class WebhookConformanceChecker
{
    // The checks use realistic IF-021 messages from the sandbox's parties.
    private static readonly ConsumptionRoster Roster = new(suppliers: 1, dataServices: 1);

    private readonly Uri _target;
    private readonly X509Certificate2 _backbone;
    private readonly X509Certificate2 _forger;
    private readonly PrivateCaTrust? _targetTrust;
    private readonly TimeSpan _timeout;
    private readonly ConsumptionMessageBuilder _builder = new(new ConsumptionMessageOptions { Environment = MarketEnvironment.DEV, Seed = 7 }, Roster);
    private readonly long _run = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private int _next;

    /// <summary>A checker of <paramref name="target"/>, signing as <paramref name="backbone"/> (with its key).</summary>
    /// <param name="target">The endpoint's URL, as the participant would register it.</param>
    /// <param name="backbone">The certificate the endpoint trusts as the backbone's, with its private key.</param>
    /// <param name="forger">Another certificate with a key, which the endpoint must not trust.</param>
    /// <param name="targetTrust">The authority of the endpoint's TLS certificate, when it is not publicly trusted.</param>
    /// <param name="timeout">How long the endpoint may take to answer one push.</param>
    public WebhookConformanceChecker(Uri target, X509Certificate2 backbone, X509Certificate2 forger, PrivateCaTrust? targetTrust = null, TimeSpan? timeout = null)
    {
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _backbone = backbone ?? throw new ArgumentNullException(nameof(backbone));
        _forger = forger ?? throw new ArgumentNullException(nameof(forger));
        _targetTrust = targetTrust;
        _timeout = timeout ?? TimeSpan.FromSeconds(30);
    }

    /// <summary>Runs every check, in order; each is independent of the others' outcome.</summary>
    public async Task<IReadOnlyList<WebhookCheck>> RunAsync(CancellationToken cancellationToken)
    {
        var config = new WebhookConfig(_target, MaxMessageCount: 100, MaxPayloadKilobytes: 0);
        // The participant tests its own endpoint, commonly on its own machine or network: private addresses are fine here.
        var policy = new CallbackAddressPolicy(allowPrivateAddresses: true);
        using var backbone = new HttpWebhookTransport(_backbone, _targetTrust, policy, _timeout, TimeProvider.System);
        using var forged = new HttpWebhookTransport(_forger, _targetTrust, policy, _timeout, TimeProvider.System);
        var checks = new List<WebhookCheck>();

        var single = Message();
        var outcome = await backbone.SendAsync(config, [single], cancellationToken).ConfigureAwait(false);
        checks.Add(Taken("a signed push of one message is taken", outcome, [single]));

        List<Delivery> batch = [.. Enumerable.Range(0, 10).Select(_ => Message())];
        outcome = await backbone.SendAsync(config, batch, cancellationToken).ConfigureAwait(false);
        checks.Add(Taken("a signed batch of 10 messages is taken", outcome, batch));

        outcome = await backbone.SendAsync(config, [single], cancellationToken).ConfigureAwait(false);
        checks.Add(Taken("the same transaction ID pushed again is taken again (idempotently)", outcome, [single]));

        List<Delivery> mixed = [batch[3], Message()];
        outcome = await backbone.SendAsync(config, mixed, cancellationToken).ConfigureAwait(false);
        checks.Add(Taken("a batch of a duplicate and a new message is taken whole", outcome, mixed));

        var good = Message();
        var bad = Message(unknownInterface: true);
        outcome = await backbone.SendAsync(config, [good, bad], cancellationToken).ConfigureAwait(false);
        checks.Add(MultiStatus(outcome, good, bad));

        outcome = await forged.SendAsync(config, [Message()], cancellationToken).ConfigureAwait(false);
        checks.Add(Refused($"a push signed by another certificate ({_forger.Subject}) is refused", outcome));

        checks.Add(await UnsignedAsync(cancellationToken).ConfigureAwait(false));
        return checks;
    }

    private static WebhookCheck Taken(string name, WebhookResponse outcome, IReadOnlyList<Delivery> sent) => outcome.Outcome switch
    {
        WebhookOutcome.AllAccepted => new WebhookCheck(name, true, $"answered {outcome.Detail}"),
        WebhookOutcome.PartlyAccepted when outcome.Rejected.Count == 0 => new WebhookCheck(name, true, outcome.Detail),
        WebhookOutcome.PartlyAccepted => new WebhookCheck(name, false,
            $"{outcome.Detail}; refused {string.Join(", ", outcome.Rejected)} of {sent.Count}. Valid messages (and repeats of ones already taken) must be answered MSG0000 or MSG0001, or the backbone offers them again and finally sets them aside."),
        _ => new WebhookCheck(name, false, $"{outcome.Outcome}: {outcome.Detail}. The backbone keeps such messages and retries; answer 201 (or 207 naming what was refused)."),
    };

    private static WebhookCheck MultiStatus(WebhookResponse outcome, Delivery good, Delivery bad)
    {
        const string Name = "a batch with a message the endpoint refuses: 201, or 207 naming each message by transaction ID";
        return outcome.Outcome switch
        {
            WebhookOutcome.AllAccepted => new WebhookCheck(Name, true,
                $"answered {outcome.Detail}: the endpoint took a message of unknown interface IF-999 too (207 not exercised)"),
            WebhookOutcome.PartlyAccepted when outcome.Rejected.SetEquals([bad.TransactionId]) => new WebhookCheck(Name, true,
                $"{outcome.Detail}: refused exactly {bad.TransactionId}, took {good.TransactionId}"),
            WebhookOutcome.PartlyAccepted => new WebhookCheck(Name, false,
                $"{outcome.Detail}: the answer did not report {string.Join(", ", outcome.Rejected)} as MSG0000/MSG0001. A 207 must list every message of the batch " +
                $"by transactionID with its result ({good.TransactionId} is valid and must be MSG0000), or the backbone sends the unlisted ones again."),
            WebhookOutcome.RetryLater when outcome.Detail.Contains("207", StringComparison.Ordinal) => new WebhookCheck(Name, false,
                $"{outcome.Detail}. A 207 body must be a DIP StandardResponse: {{\"messageArray\":[{{\"transactionID\":…,\"message\":\"MSG0000 - Success\",…}}],\"timestamp\":…}}."),
            _ => new WebhookCheck(Name, false,
                $"{outcome.Outcome}: {outcome.Detail}. Refusing the whole batch for one bad message stops delivery; answer 207 naming the refused message instead."),
        };
    }

    private static WebhookCheck Refused(string name, WebhookResponse outcome) => outcome.Outcome is WebhookOutcome.Refused
        ? new WebhookCheck(name, true, outcome.Detail)
        : new WebhookCheck(name, false, $"{outcome.Outcome}: {outcome.Detail}. The endpoint must verify X-DIP-Signature against the backbone's certificate and answer 401 otherwise.");

    private async Task<WebhookCheck> UnsignedAsync(CancellationToken cancellationToken)
    {
        const string Name = "an unsigned push is refused";
        using var handler = new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false };
        if (_targetTrust is not null) handler.SslOptions.RemoteCertificateValidationCallback = _targetTrust.ServerCertificateValidation();
        using var http = new HttpClient(handler) { Timeout = _timeout };
        using var content = new ByteArrayContent(MessageArray.Join(1, _ => Message().Message));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        try
        {
            using var response = await http.PostAsync(_target, content, cancellationToken).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            return status is >= 400 and < 500
                ? new WebhookCheck(Name, true, $"answered {status}")
                : new WebhookCheck(Name, false, $"answered {status}. A push without X-DIP-Signature headers is not from the backbone; answer 401.");
        }
        catch (HttpRequestException e)
        {
            return new WebhookCheck(Name, false, $"could not reach {_target}: {e.Message}");
        }
    }

    /// <summary>A stamped IF-021 message as the backbone delivers it, with a new transaction ID.</summary>
    private Delivery Message(bool unknownInterface = false)
    {
        var number = _run * 100 + Interlocked.Increment(ref _next);
        var body = _builder.Build(number);
        if (unknownInterface)
        {
            body = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace("\"interfaceID\":\"IF-021\"", "\"interfaceID\":\"IF-999\"", StringComparison.Ordinal));
        }

        var now = DateTimeOffset.UtcNow;
        var transactionId = TransactionId.Create("IF-021", Roster.DataServices[0], "SDS", now, partition: 0, offset: number);
        var stamped = EgressWriter.Stamp(body, new EgressStamp
        {
            TransactionId = transactionId, TransactionTimestamp = now, PublicationId = "PUB-021",
            SecondaryRecipients = [Roster.DistributorOf(_builder.MpanOf(number))], Always = [Roster.LoadShaping, Roster.MarketWideData],
        });
        return new Delivery(Receipt: transactionId, transactionId, _builder.MpanOf(number).ToString(System.Globalization.CultureInfo.InvariantCulture), stamped, DeliveryCount: 1);
    }
}
