using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Halfhour.Client.Contract;
using Halfhour.Client.Messages;

namespace Halfhour.Client.Transport;

/// <summary>
/// A participant's connection to a DIP-compatible backbone: sends messages (typed builders or raw JSON) signed, over
/// mutual TLS, in batches, with safe retries and a result per message; pulls and acknowledges its own messages;
/// registers its webhook; replays and requeues. Thread-safe; keep one per participant for the life of the process.
/// </summary>
public sealed class DipClient : IDisposable
{
    private readonly HttpClient _http;

    /// <summary>Creates a client; the certificate and API key in <paramref name="options"/> are what it authenticates with.</summary>
    public DipClient(DipClientOptions options) : this(options, null)
    {
    }

    /// <summary>Creates a client whose transport, below signing, is wrapped (fault injection in tests).</summary>
    internal DipClient(DipClientOptions options, Func<HttpMessageHandler, HttpMessageHandler>? wrapTransport)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MaxBatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), $"MaxBatchSize must be at least 1; got {options.MaxBatchSize}.");
        if (options.MaxParallelRequests < 1) throw new ArgumentOutOfRangeException(nameof(options), $"MaxParallelRequests must be at least 1; got {options.MaxParallelRequests}.");
        if (options.Retry.MaxAttempts < 1) throw new ArgumentOutOfRangeException(nameof(options), "Retry.MaxAttempts must be at least 1.");
        Options = options;
        _http = DipHttpClient.Create(options.Connection, wrapTransport);
        _http.Timeout = Timeout.InfiniteTimeSpan; // each attempt has its own deadline (a long poll's is longer)
    }

    /// <summary>The options the client was made with.</summary>
    public DipClientOptions Options { get; }

    /// <summary>Builds a message as this participant sends it now (S1 filled, a new sender unique reference unless the builder has one).</summary>
    public DipMessage Build(DipMessageBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Build(Options.Sender, Options.Clock.GetUtcNow());
    }

    /// <summary>Builds and sends one message; its result.</summary>
    public async Task<MessageResult> SendAsync(DipMessageBuilder builder, CancellationToken cancellationToken = default) =>
        (await SendAsync([Build(builder)], cancellationToken).ConfigureAwait(false)).Messages[0];

    /// <summary>Sends one message as it is; its result.</summary>
    public async Task<MessageResult> SendAsync(DipMessage message, CancellationToken cancellationToken = default) =>
        (await SendAsync([message], cancellationToken).ConfigureAwait(false)).Messages[0];

    /// <summary>Builds and sends messages; one result each, in order.</summary>
    public Task<SendResult> SendAsync(IEnumerable<DipMessageBuilder> builders, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(builders);
        return SendAsync([.. builders.Select(Build)], cancellationToken);
    }

    /// <summary>
    /// Sends messages, each on the channel of its S0.interfaceID, in requests of at most <see cref="DipClientOptions.MaxBatchSize"/>,
    /// up to <see cref="DipClientOptions.MaxParallelRequests"/> requests at once; one result each, in order. The messages of
    /// one MPAN keep their order: a request that holds a message of an MPAN an earlier request of the channel also holds is
    /// sent only once that request is done, so the backbone stores them in the order given. Failed requests and messages
    /// answered MSG1500 are sent again as they were (same sender unique references), so nothing is ever stored twice. Throws
    /// <see cref="DipRequestException"/> when a request is refused as a whole or the backbone stays unreachable; other
    /// requests may then have been stored, and sending all again is safe.
    /// </summary>
    public async Task<SendResult> SendAsync(IReadOnlyList<DipMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var bodies = new byte[messages.Count][];
        var channels = new string[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            channels[i] = messages[i].InterfaceId ?? throw new ArgumentException($"Message {i} has no S0.interfaceID, so its channel is unknown.", nameof(messages));
            bodies[i] = messages[i].ToUtf8();
        }

        var results = new MessageResult[messages.Count];
        var requests = SendPlan.Of(messages, channels, Options.MaxBatchSize);
        using var slots = new SemaphoreSlim(Options.MaxParallelRequests);
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var sent = new Task[requests.Count];
        for (var r = 0; r < requests.Count; r++)
        {
            var request = requests[r];
            var after = request.After.Select(a => sent[a]).ToArray();
            sent[r] = SendAfterAsync(request, after);
        }

        await Task.WhenAll(sent).ConfigureAwait(false);
        return new SendResult(results);

        async Task SendAfterAsync(SendPlan.Request request, Task[] after)
        {
            // An earlier request with the same MPANs must be done first; if it failed, this one is not sent at all.
            await Task.WhenAll(after).ConfigureAwait(false);
            await slots.WaitAsync(failed.Token).ConfigureAwait(false);
            try
            {
                await SendChunkAsync(request.Channel, request.Indexes, bodies, results, failed.Token).ConfigureAwait(false);
            }
            catch
            {
                await failed.CancelAsync().ConfigureAwait(false);
                throw;
            }
            finally
            {
                slots.Release();
            }
        }
    }

    /// <summary>
    /// Sends a body exactly as given — one message <c>{"payload": …}</c> or a DIP array — on a channel, in one request with
    /// the same retries; one result per message.
    /// </summary>
    public async Task<SendResult> SendRawAsync(string channel, ReadOnlyMemory<byte> json, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        var responses = await PostBatchAsync(channel, json, cancellationToken).ConfigureAwait(false);
        return new SendResult([.. responses.Select((r, i) => Result(i, channel, r))]);
    }

    /// <summary>Fetches up to <paramref name="max"/> of the caller's messages on a channel, waiting up to <paramref name="wait"/> for the first.</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> FetchAsync(string channel, int max = 100, TimeSpan? wait = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        var seconds = (int)Math.Ceiling((wait ?? TimeSpan.Zero).TotalSeconds);
        using var response = await SendWithRetriesAsync(
            () => new HttpRequestMessage(HttpMethod.Get, Relative($"native/v1/channels/{Uri.EscapeDataString(channel)}/messages?max={max}&waitSeconds={seconds}")),
            TimeSpan.FromSeconds(seconds), cancellationToken).ConfigureAwait(false);
        var json = await ReadSuccessAsync(response, $"fetching from {channel}", cancellationToken).ConfigureAwait(false);
        var list = new List<ReceivedMessage>();
        foreach (var item in json.RootElement.GetProperty("messages").EnumerateArray())
        {
            list.Add(new ReceivedMessage(channel, item.GetProperty("receipt").GetString()!, item.GetProperty("transactionID").GetString()!,
                item.GetProperty("deliveryCount").GetInt32(), DipMessage.From(item.GetProperty("message"))));
        }

        json.Dispose();
        return list;
    }

    /// <summary>Acknowledges fetched messages by receipt; how many were taken (expired or repeated receipts are not counted).</summary>
    public async Task<int> AcknowledgeAsync(string channel, IEnumerable<string> receipts, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(receipts);
        var body = JsonSerializer.SerializeToUtf8Bytes(new JsonObject { ["receipts"] = new JsonArray([.. receipts.Select(r => (JsonNode?)JsonValue.Create(r))]) });
        using var response = await PostJsonAsync($"native/v1/channels/{Uri.EscapeDataString(channel)}/acknowledgements", body, cancellationToken).ConfigureAwait(false);
        using var json = await ReadSuccessAsync(response, $"acknowledging on {channel}", cancellationToken).ConfigureAwait(false);
        return json.RootElement.GetProperty("acknowledged").GetInt32();
    }

    /// <summary>
    /// The pull consumer loop: fetches the caller's messages on a channel (long polls), hands each to
    /// <paramref name="handler"/> in order, and acknowledges those it handled without throwing. A message whose handler
    /// threw is left unacknowledged and comes back after the visibility timeout (at least once). Runs until cancelled
    /// (then returns normally) or, with <see cref="ConsumeOptions.StopWhenEmpty"/>, until a fetch finds nothing.
    /// Returns how many messages were handled and acknowledged.
    /// </summary>
    public async Task<long> ConsumeAsync(string channel, Func<ReceivedMessage, CancellationToken, Task> handler, ConsumeOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        options ??= new ConsumeOptions();
        long handled = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var fetched = await FetchAsync(channel, options.MaxMessages, options.StopWhenEmpty ? TimeSpan.Zero : options.Wait, cancellationToken).ConfigureAwait(false);
                if (fetched.Count == 0)
                {
                    if (options.StopWhenEmpty) break;
                    continue;
                }

                var done = new List<string>(fetched.Count);
                foreach (var message in fetched)
                {
                    try
                    {
                        await handler(message, cancellationToken).ConfigureAwait(false);
                        done.Add(message.Receipt);
                    }
                    catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        options.OnHandlerError?.Invoke(message, e);
                    }
                }

                // Acknowledged even when cancelled now: the handler has done its work, and a lost ack only redelivers.
                if (done.Count > 0) handled += await AcknowledgeAsync(channel, done, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        return handled;
    }

    /// <summary>Registers (or replaces) the caller's webhook for a channel: the backbone POSTs arrays of up to <paramref name="maxMessageCount"/> messages there.</summary>
    public async Task RegisterWebhookAsync(string channel, Uri callbackUrl, int maxMessageCount = 100, int maxPayloadSizeKb = 1000, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(callbackUrl);
        var body = JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["callbackURL"] = callbackUrl.AbsoluteUri, ["maxMessageCount"] = maxMessageCount, ["maxPayloadSize"] = maxPayloadSizeKb,
        });
        using var response = await PostJsonAsync(PubConfigPath(channel), body, cancellationToken).ConfigureAwait(false);
        (await ReadSuccessAsync(response, $"registering the webhook for {channel}", cancellationToken).ConfigureAwait(false)).Dispose();
    }

    /// <summary>Removes the caller's webhook for a channel; messages then wait to be pulled.</summary>
    public async Task RemoveWebhookAsync(string channel, CancellationToken cancellationToken = default)
    {
        using var response = await SendWithRetriesAsync(() => new HttpRequestMessage(HttpMethod.Delete, Relative(PubConfigPath(channel))), TimeSpan.Zero, cancellationToken)
            .ConfigureAwait(false);
        (await ReadSuccessAsync(response, $"removing the webhook for {channel}", cancellationToken).ConfigureAwait(false)).Dispose();
    }

    /// <summary>Replays the caller's messages of a channel that match <paramref name="query"/>, page by page (each marked replayed).</summary>
    public async IAsyncEnumerable<DipMessage> ReplayAsync(string channel, MessageQuery? query = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var body = QueryBody(query);
        string? token = null;
        do
        {
            var continuation = token;
            using var response = await SendWithRetriesAsync(() =>
            {
                var request = JsonRequest($"dip-channel/{Uri.EscapeDataString(channel)}/replay/{Options.DipId}", body);
                if (continuation is not null) request.Headers.Add("X-Continuation-Token", continuation);
                return request;
            }, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            using var page = await ReadSuccessAsync(response, $"replaying {channel}", cancellationToken).ConfigureAwait(false);
            token = response.StatusCode == HttpStatusCode.PartialContent && response.Headers.TryGetValues("X-Continuation-Token", out var next) ? next.FirstOrDefault() : null;
            foreach (var message in page.RootElement.EnumerateArray()) yield return DipMessage.From(message);
        }
        while (token is not null);
    }

    /// <summary>Asks the backbone to push the caller's matching messages of a channel to its webhook again; the requeue ID.</summary>
    public async Task<string> RequeueAsync(string channel, MessageQuery? query = null, CancellationToken cancellationToken = default)
    {
        using var response = await PostJsonAsync($"dip-channel/{Uri.EscapeDataString(channel)}/requeue/{Options.DipId}", QueryBody(query), cancellationToken).ConfigureAwait(false);
        using var json = await ReadSuccessAsync(response, $"requeueing {channel}", cancellationToken).ConfigureAwait(false);
        return json.RootElement.GetString()!;
    }

    /// <summary>The progress of the caller's requeues on a channel (one, when <paramref name="requeueId"/> is given); empty when there is none.</summary>
    public async Task<IReadOnlyList<RequeueStatus>> RequeueStatusAsync(string channel, string? requeueId = null, CancellationToken cancellationToken = default)
    {
        var path = $"dip-channel/{Uri.EscapeDataString(channel)}/requeueStatus/{Options.DipId}" + (requeueId is null ? "" : $"?requeue-id={Uri.EscapeDataString(requeueId)}");
        using var response = await SendWithRetriesAsync(() => new HttpRequestMessage(HttpMethod.Get, Relative(path)), TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NoContent) return [];
        using var json = await ReadSuccessAsync(response, $"asking the requeue status of {channel}", cancellationToken).ConfigureAwait(false);
        return [.. json.RootElement.EnumerateArray().Select(s => new RequeueStatus(
            s.GetProperty("requeueId").GetString()!, s.GetProperty("percentComplete").GetDouble(), s.GetProperty("totalTransactions").GetInt64(),
            s.GetProperty("processedTransactions").GetInt64(), s.GetProperty("status").GetString()!,
            s.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null))];
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private async Task SendChunkAsync(string channel, int[] chunk, byte[][] bodies, MessageResult[] results, CancellationToken cancellationToken)
    {
        IReadOnlyList<int> pending = chunk;
        for (var attempt = 1; ; attempt++)
        {
            var responses = await PostBatchAsync(channel, Join(pending, bodies), cancellationToken).ConfigureAwait(false);
            if (responses.Count != pending.Count)
            {
                throw new DipRequestException($"The backbone answered {responses.Count} results for {pending.Count} messages on {channel}; the answer cannot be matched to the messages.");
            }

            var again = new List<int>();
            for (var i = 0; i < pending.Count; i++)
            {
                results[pending[i]] = Result(pending[i], channel, responses[i]);
                if (results[pending[i]].Retryable) again.Add(pending[i]);
            }

            if (again.Count == 0 || attempt >= Options.Retry.MaxAttempts) return;
            await Task.Delay(Options.Retry.DelayBefore(attempt), Options.Clock, cancellationToken).ConfigureAwait(false);
            pending = again;
        }
    }

    private async Task<IReadOnlyList<MessageResponse>> PostBatchAsync(string channel, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using var response = await PostJsonAsync($"dip-channel/{Uri.EscapeDataString(channel)}", body, cancellationToken).ConfigureAwait(false);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.Created or HttpStatusCode.MultiStatus or HttpStatusCode.BadRequest
            && TryStandardResponse(bytes) is { } answer)
        {
            return answer.MessageArray;
        }

        throw Refusal(response, bytes, $"sending to {channel}");
    }

    private Task<HttpResponseMessage> PostJsonAsync(string path, ReadOnlyMemory<byte> body, CancellationToken cancellationToken) =>
        SendWithRetriesAsync(() => JsonRequest(path, body), TimeSpan.Zero, cancellationToken);

    private HttpRequestMessage JsonRequest(string path, ReadOnlyMemory<byte> body)
    {
        var content = new ReadOnlyMemoryContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return new HttpRequestMessage(HttpMethod.Post, Relative(path)) { Content = content };
    }

    /// <summary>
    /// Sends a request made afresh for each attempt (so each is signed afresh), until the answer is not worth retrying:
    /// 429, 408 and 5xx answers and transport failures are retried as the policy says; the last answer or failure is the caller's.
    /// </summary>
    private async Task<HttpResponseMessage> SendWithRetriesAsync(Func<HttpRequestMessage> create, TimeSpan extraTime, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var request = create();
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(Options.RequestTimeout + extraTime);
            TimeSpan? retryAfter = null;
            Exception failure;
            try
            {
                var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, deadline.Token).ConfigureAwait(false);
                if (!IsTransient(response.StatusCode) || attempt >= Options.Retry.MaxAttempts) return response;
                retryAfter = response.Headers.RetryAfter?.Delta
                    ?? (response.Headers.RetryAfter?.Date is { } date ? date - Options.Clock.GetUtcNow() : null);
                failure = new DipRequestException($"the backbone answered {(int)response.StatusCode}", response.StatusCode);
                response.Dispose();
            }
            catch (HttpRequestException e)
            {
                failure = e;
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                failure = new TimeoutException($"no answer within {(Options.RequestTimeout + extraTime).TotalSeconds:0.#} s", e);
            }

            if (attempt >= Options.Retry.MaxAttempts)
            {
                throw new DipRequestException(
                    $"The backbone at {Options.BaseAddress} could not be reached after {attempt} attempt(s): {failure.Message}. " +
                    "Check that it is running and listening there (a sandbox backbone starts with `./halfhour serve`).", null, "unreachable", failure);
            }

            var wait = Options.Retry.DelayBefore(attempt, retryAfter is { } r && r > TimeSpan.Zero ? r : null);
            await Task.Delay(wait, Options.Clock, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsTransient(HttpStatusCode status) => status is HttpStatusCode.TooManyRequests or HttpStatusCode.RequestTimeout || (int)status >= 500;

    private static async Task<JsonDocument> ReadSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw Refusal(response, bytes, what);
        return JsonDocument.Parse(bytes.Length == 0 ? "null"u8.ToArray() : bytes);
    }

    /// <summary>An exception that says what the backbone refused and why, from its problem details when it sent them.</summary>
    private static DipRequestException Refusal(HttpResponseMessage response, byte[] body, string what)
    {
        string? reason = null, detail = null, title = null;
        try
        {
            using var problem = JsonDocument.Parse(body);
            if (problem.RootElement.ValueKind == JsonValueKind.Object)
            {
                reason = problem.RootElement.TryGetProperty("reason", out var r) ? r.GetString() : null;
                detail = problem.RootElement.TryGetProperty("detail", out var d) ? d.GetString() : null;
                title = problem.RootElement.TryGetProperty("title", out var t) ? t.GetString() : null;
            }
        }
        catch (JsonException)
        {
        }

        var text = detail ?? (body.Length > 0 ? Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 500)) : "no detail");
        return new DipRequestException(
            $"The backbone refused {what} with {(int)response.StatusCode}{(title is null ? "" : $" ({title})")}: {text}", response.StatusCode, reason);
    }

    private static StandardResponse? TryStandardResponse(byte[] body)
    {
        try
        {
            var answer = JsonSerializer.Deserialize<StandardResponse>(body);
            return answer?.MessageArray is null ? null : answer;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static MessageResult Result(int index, string channel, MessageResponse response) =>
        new(index, channel, response.SenderUniqueReference, response.TransactionId, MessageResult.CodeOf(response.Message), response.Message ?? "", response.Help);

    private static byte[] Join(IReadOnlyList<int> indexes, byte[][] bodies)
    {
        var length = 1 + indexes.Sum(i => bodies[i].Length + 1);
        var joined = new byte[length];
        joined[0] = (byte)'[';
        var at = 1;
        for (var i = 0; i < indexes.Count; i++)
        {
            if (i > 0) joined[at++] = (byte)',';
            bodies[indexes[i]].CopyTo(joined, at);
            at += bodies[indexes[i]].Length;
        }

        joined[at] = (byte)']';
        return joined;
    }

    private static byte[] QueryBody(MessageQuery? query) => JsonSerializer.SerializeToUtf8Bytes(new JsonObject
    {
        ["datetimeFrom"] = query?.From is { } from ? DipTime.Format(from) : null,
        ["datetimeTo"] = query?.To is { } to ? DipTime.Format(to) : null,
        ["eventCode"] = query?.EventCode,
        ["MPAN"] = query?.Mpan,
        ["transactionIDs"] = query?.TransactionIds is { } ids ? new JsonArray([.. ids.Select(i => (JsonNode?)JsonValue.Create(i))]) : null,
        ["version"] = null,
    });

    private string PubConfigPath(string channel) => $"dip-channel/{Uri.EscapeDataString(channel)}/pubconfig/{Options.DipId}";

    private static Uri Relative(string path) => new(path, UriKind.Relative);
}
