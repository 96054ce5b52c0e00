namespace Halfhour.Client.Tests.Sdk;

/// <summary>
/// The transport under the SDK's signing, with faults: counts the requests that reach the server, and can lose the
/// answer to the first N publishes after the server has handled them — the connection dying on the way back, the case
/// where a sender cannot know whether its messages were stored.
/// </summary>
internal sealed class FaultyTransport(HttpMessageHandler inner, int answersToLose = 0, Func<int, HttpResponseMessage?>? answerInstead = null) : DelegatingHandler(inner)
{
    private int _lost;
    private int _requests;

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The arrival time of each request.</summary>
    public List<DateTimeOffset> Arrivals { get; } = [];

    /// <summary>
    /// A wrapper for the SDK's transport: <paramref name="answersToLose"/> publish answers are lost after the server handled
    /// them; <paramref name="answerInstead"/>, given the request number (from 1), may answer for the server without sending.
    /// </summary>
    public static Func<HttpMessageHandler, HttpMessageHandler> Wrap(out Func<FaultyTransport> transport, int answersToLose = 0,
        Func<int, HttpResponseMessage?>? answerInstead = null)
    {
        FaultyTransport? made = null;
        transport = () => made!;
        return inner => made = new FaultyTransport(inner, answersToLose, answerInstead);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _requests);
        lock (Arrivals) Arrivals.Add(DateTimeOffset.UtcNow);
        if (answerInstead?.Invoke(number) is { } instead) return instead;
        var response = await base.SendAsync(request, cancellationToken);
        var publish = request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath.StartsWith("/dip-channel/", StringComparison.Ordinal)
            && request.RequestUri.Segments.Length == 3;
        if (publish && Interlocked.Increment(ref _lost) <= answersToLose)
        {
            response.Dispose();
            throw new HttpRequestException("The connection was reset after the request was sent (injected).");
        }

        return response;
    }
}
