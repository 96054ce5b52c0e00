using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Halfhour.Client.Contract;
using Halfhour.Client.Transport;

namespace Halfhour.Simulator.Transport;

/// <summary>One message handed out by a pull: what to acknowledge it with and the stamped message.</summary>
/// <param name="Receipt">The receipt to acknowledge.</param>
/// <param name="TransactionId">The backbone's transaction ID.</param>
/// <param name="Message">The stamped message.</param>
internal sealed record PulledMessage(string Receipt, string TransactionId, JsonElement Message);

/// <summary>
/// The little of the DIP and native APIs a stub needs, for one participant: publish an array, register a webhook,
/// pull and acknowledge, replay. Kept to this one class so the simulator can move to the SDK's typed client in one place.
/// Every request is signed and sent over mutual TLS with the participant's certificate and API key.
/// </summary>
internal sealed class ParticipantConnection : IDisposable
{
    // The DIP's property names as written (MPAN, transactionIDs), not camel-cased.
    private static readonly System.Text.Json.JsonSerializerOptions ExactNames = new();

    // Numbers every request this process signs: the simulated participants share a few keys, and the DIP signature
    // covers method, URL, date and body but not who signs, so two stubs polling the same path in the same millisecond
    // would sign identically and the backbone would refuse the second as a replayed signature.
    private static long s_requests;

    private readonly HttpClient _http;

    /// <summary>Connects a participant to the backbone at <paramref name="url"/>.</summary>
    public ParticipantConnection(Uri url, PrivateCaTrust trust, X509Certificate2 certificate, string apiKey)
    {
        _http = DipHttpClient.Create(new DipConnection { BaseAddress = url, Certificate = certificate, ApiKey = apiKey, ServerTrust = trust });
        _http.Timeout = TimeSpan.FromMinutes(2);
    }

    /// <summary>Publishes an array of messages to a channel; the result of each, in order.</summary>
    public async Task<IReadOnlyList<MessageResponse>> PublishAsync(string channel, ReadOnlyMemory<byte> array, CancellationToken cancellationToken)
    {
        using var content = new ReadOnlyMemoryContent(array);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await _http.PostAsync($"dip-channel/{channel}", content, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.MultiStatus or HttpStatusCode.BadRequest))
        {
            throw Failure("POST", $"dip-channel/{channel}", response.StatusCode, body);
        }

        return JsonSerializer.Deserialize<StandardResponse>(body)?.MessageArray ?? throw Failure("POST", $"dip-channel/{channel}", response.StatusCode, body);
    }

    /// <summary>Registers (or with null, removes) this participant's webhook for a channel.</summary>
    public async Task SetWebhookAsync(string channel, string dipId, Uri? callback, int maxMessageCount, CancellationToken cancellationToken)
    {
        var path = $"dip-channel/{channel}/pubconfig/{dipId}?n={Next()}";
        using var response = callback is null
            ? await _http.DeleteAsync(path, cancellationToken).ConfigureAwait(false)
            : await _http.PostAsJsonAsync(path, new { callbackURL = callback.ToString(), maxMessageCount }, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw Failure(callback is null ? "DELETE" : "POST", path, response.StatusCode, await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
        }
    }

    /// <summary>Registers this participant's webhook for the status messages about its own messages.</summary>
    public async Task SetStatusWebhookAsync(string dipId, Uri callback, int maxMessageCount, CancellationToken cancellationToken)
    {
        var path = $"statusmessage/config/{dipId}?n={Next()}";
        using var response = await _http.PostAsJsonAsync(path, new { callbackURL = callback.ToString(), maxMessageCount }, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw Failure("POST", path, response.StatusCode, await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Sends status messages (each a DIP StandardResponseBodyType object) about messages this participant received.</summary>
    public async Task SendStatusAsync(IReadOnlyList<object> statuses, CancellationToken cancellationToken)
    {
        var path = $"statusmessage?n={Next()}";
        using var response = await _http.PostAsJsonAsync(path, statuses, ExactNames, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw Failure("POST", path, response.StatusCode, await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Long-polls a channel for up to <paramref name="max"/> messages.</summary>
    public async Task<List<PulledMessage>> PullAsync(string channel, int max, int waitSeconds, CancellationToken cancellationToken)
    {
        var path = $"native/v1/channels/{channel}/messages?max={max}&waitSeconds={waitSeconds}&n={Next()}";
        using var response = await _http.GetAsync(path, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw Failure("GET", path, response.StatusCode, body);
        using var document = JsonDocument.Parse(body);
        var pulled = new List<PulledMessage>();
        foreach (var item in document.RootElement.GetProperty("messages").EnumerateArray())
        {
            pulled.Add(new PulledMessage(item.GetProperty("receipt").GetString()!, item.GetProperty("transactionID").GetString()!,
                item.GetProperty("message").Clone()));
        }

        return pulled;
    }

    /// <summary>Acknowledges pulled messages by receipt.</summary>
    public async Task AcknowledgeAsync(string channel, IReadOnlyList<string> receipts, CancellationToken cancellationToken)
    {
        var path = $"native/v1/channels/{channel}/acknowledgements?n={Next()}";
        using var response = await _http.PostAsJsonAsync(path, new { receipts }, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode) throw Failure("POST", path, response.StatusCode, await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Replays this participant's messages of a channel with the given transaction IDs (at most 100), every page.</summary>
    public async Task<List<JsonElement>> ReplayAsync(string channel, string dipId, IReadOnlyList<string> transactionIds, CancellationToken cancellationToken)
    {
        var path = $"dip-channel/{channel}/replay/{dipId}?n={Next()}";
        var messages = new List<JsonElement>();
        string? token = null;
        do
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path)
            {
                Content = JsonContent.Create(new { datetimeFrom = (string?)null, datetimeTo = (string?)null, eventCode = (string?)null, MPAN = (string?)null, transactionIDs = transactionIds, version = (string?)null }, options: ExactNames),
            };
            if (token is not null) request.Headers.Add("X-Continuation-Token", token);
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.PartialContent)) throw Failure("POST", path, response.StatusCode, body);
            using var document = JsonDocument.Parse(body);
            foreach (var message in document.RootElement.EnumerateArray())
            {
                messages.Add(message.Clone());
            }

            token = response.StatusCode == HttpStatusCode.PartialContent && response.Headers.TryGetValues("X-Continuation-Token", out var next) ? next.First() : null;
        }
        while (token is not null);

        return messages;
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private static long Next() => Interlocked.Increment(ref s_requests);

    private static HttpRequestException Failure(string method, string path, HttpStatusCode status, byte[] body) =>
        new($"{method} {path} answered {(int)status}: {System.Text.Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 600)))}", null, status);
}
