using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Halfhour.Broker.Delivery;
using Halfhour.Client.Contract;
using Halfhour.Client.Signing;
using Halfhour.Client.Transport;
using Halfhour.Market.Validation;

namespace Halfhour.Server.Push;

/// <summary>
/// Pushes arrays of stamped messages to recipients' webhooks over HTTP(S), signed the DIP way with the backbone's own
/// certificate (which also serves as its TLS client certificate), and words the answer for the delivery loop:
/// 2xx all taken, 207 per message (only those the answer reports as MSG0000/MSG0001 count as taken), 408/429/5xx,
/// timeouts and connection failures retry later (honouring Retry-After), 413 too large, other answers refused.
/// Never follows redirects: a webhook that moved must be registered again.
/// </summary>
public sealed class HttpWebhookTransport : IWebhookTransport, IDisposable
{
    /// <summary>Ten seconds to connect: a healthy receiver accepts in milliseconds; one that does not is retried later.</summary>
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A 207 body larger than 4 MiB is not a StandardResponse to a batch of at most a thousand messages.</summary>
    private const int MaxResponseBytes = 4 << 20;

    private readonly HttpClient _client;
    private readonly DipRequestSigner _signer;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;

    /// <summary>Creates the transport.</summary>
    /// <param name="certificate">The backbone's certificate with its private key: signs every push, presented to receivers that ask for a client certificate.</param>
    /// <param name="trust">Authorities a receiver's certificate may chain to besides the machine's public roots (the sandbox CA), or null.</param>
    /// <param name="policy">Which addresses may be connected to.</param>
    /// <param name="timeout">The longest one POST may take, connection included.</param>
    /// <param name="time">The clock the signatures are dated by.</param>
    public HttpWebhookTransport(X509Certificate2 certificate, PrivateCaTrust? trust, CallbackAddressPolicy policy, TimeSpan timeout, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(policy);
        _signer = new DipRequestSigner(certificate, time);
        _timeout = timeout;
        _time = time;
        var trusted = trust?.ServerCertificateValidation();
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = s_connectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5), // follow DNS changes of receivers
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [certificate],
                RemoteCertificateValidationCallback = (sender, remote, chain, errors) =>
                    errors == SslPolicyErrors.None || (trusted is not null && trusted(sender, remote, chain, errors)),
            },
            ConnectCallback = (context, cancellationToken) => ConnectAsync(policy, context, cancellationToken),
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <inheritdoc />
    public async Task<WebhookResponse> SendAsync(WebhookConfig config, IReadOnlyList<Delivery> messages, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(messages);
        var body = MessageArray.Join(messages.Count, i => messages[i].Message);
        using var request = new HttpRequestMessage(HttpMethod.Post, config.CallbackUrl) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in _signer.Sign("POST", config.CallbackUrl, body).AsPairs())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_timeout);
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            return await ReadAsync(response, messages, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Retry($"no answer within {_timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e) when (e.InnerException is CallbackAddressRefusedException refused)
        {
            return new WebhookResponse(WebhookOutcome.Refused, Empty, refused.Message);
        }
        catch (HttpRequestException e)
        {
            return Retry($"could not reach {config.CallbackUrl.GetLeftPart(UriPartial.Authority)}: {e.Message}");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _client.Dispose();

    private static readonly IReadOnlySet<string> Empty = new HashSet<string>();

    private static WebhookResponse Retry(string detail, TimeSpan? after = null) => new(WebhookOutcome.RetryLater, Empty, detail, after);

    private async Task<WebhookResponse> ReadAsync(HttpResponseMessage response, IReadOnlyList<Delivery> messages, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        if (status == StatusCodes.Status207MultiStatus)
        {
            return await ReadMultiStatusAsync(response, messages, cancellationToken);
        }

        if (status is >= 200 and < 300) return new WebhookResponse(WebhookOutcome.AllAccepted, Empty, $"{status}");
        if (status is 408 or 429 or >= 500) return Retry($"the receiver answered {status}", RetryAfter(response));
        if (status == 413) return new WebhookResponse(WebhookOutcome.TooLarge, Empty, "the receiver answered 413: too large");
        return new WebhookResponse(WebhookOutcome.Refused, Empty, $"the receiver answered {status}; it needs its owner's attention");
    }

    private static async Task<WebhookResponse> ReadMultiStatusAsync(HttpResponseMessage response, IReadOnlyList<Delivery> messages, CancellationToken cancellationToken)
    {
        StandardResponse? answer = null;
        try
        {
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (bytes.Length <= MaxResponseBytes) answer = JsonSerializer.Deserialize<StandardResponse>(bytes);
        }
        catch (JsonException)
        {
        }

        if (answer?.MessageArray is null)
        {
            return Retry("the receiver answered 207 without a readable StandardResponse, so nothing counts as taken");
        }

        // Taken: what the answer reports as accepted. Everything else of the batch (refused or not mentioned) is offered again.
        var taken = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in answer.MessageArray)
        {
            if (entry?.TransactionId is { } id && IsAccepted(entry.Message)) taken.Add(id);
        }

        var rejected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var message in messages)
        {
            if (!taken.Contains(message.TransactionId)) rejected.Add(message.TransactionId);
        }

        return new WebhookResponse(WebhookOutcome.PartlyAccepted, rejected, $"207: {messages.Count - rejected.Count} of {messages.Count} taken");
    }

    private static bool IsAccepted(string? message) =>
        message is not null
        && (message.StartsWith(MessageCodes.Code(MessageCode.Success), StringComparison.Ordinal)
            || message.StartsWith(MessageCodes.Code(MessageCode.Duplicate), StringComparison.Ordinal));

    private TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - _time.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    private static async ValueTask<Stream> ConnectAsync(CallbackAddressPolicy policy, SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        Exception? last = null;
        foreach (var address in addresses)
        {
            if (!policy.MayConnect(host, address))
            {
                last ??= new CallbackAddressRefusedException($"{host} resolves to the internal address {address}, which callbacks may not reach here.");
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
        }

        throw last ?? new CallbackAddressRefusedException($"{host} resolves to no address.");
    }
}

/// <summary>A callback's host resolves only to addresses the policy forbids.</summary>
public sealed class CallbackAddressRefusedException(string message) : IOException(message);
