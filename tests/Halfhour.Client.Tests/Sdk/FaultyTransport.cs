namespace Halfhour.Client.Tests.Sdk;

/// <summary>
/// The transport under the SDK's signing, with faults: counts the requests that reach the server, and can lose the
/// answer to the first N publishes after the server has handled them — the connection dying on the way back, the case
/// where a sender cannot know whether its messages were stored.
/// </summary>
internal sealed class FaultyTransport(HttpMessageHandler inner, int answersToLose = 0, Func<int, HttpResponseMessage?>? answerInstead = null, int holdUntilInFlight = 0)
    : DelegatingHandler(inner)
{
    private readonly TaskCompletionSource _enoughInFlight = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _lost;
    private int _requests;
    private int _inFlight;
    private int _maxInFlight;

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The most publish requests that were in flight at once.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Publish requests starting and ending, in the order they did: ("start" or "end", the request's body).</summary>
    public List<(string Event, string Body)> Publishes { get; } = [];

    /// <summary>The arrival time of each request.</summary>
    public List<DateTimeOffset> Arrivals { get; } = [];

    /// <summary>
    /// A wrapper for the SDK's transport: <paramref name="answersToLose"/> publish answers are lost after the server handled
    /// them; <paramref name="answerInstead"/>, given the request number (from 1), may answer for the server without sending.
    /// </summary>
    /// <remarks>
    /// With <paramref name="holdUntilInFlight"/>, publishes are held until that many are in flight at once (or ten seconds
    /// pass), so a test sees whether the client sends them together without depending on timing.
    /// </remarks>
    public static Func<HttpMessageHandler, HttpMessageHandler> Wrap(out Func<FaultyTransport> transport, int answersToLose = 0,
        Func<int, HttpResponseMessage?>? answerInstead = null, int holdUntilInFlight = 0)
    {
        FaultyTransport? made = null;
        transport = () => made!;
        return inner => made = new FaultyTransport(inner, answersToLose, answerInstead, holdUntilInFlight);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _requests);
        lock (Arrivals) Arrivals.Add(DateTimeOffset.UtcNow);
        if (answerInstead?.Invoke(number) is { } instead) return instead;
        var publish = request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath.StartsWith("/dip-channel/", StringComparison.Ordinal)
            && request.RequestUri.Segments.Length == 3;
        var body = publish ? await request.Content!.ReadAsStringAsync(cancellationToken) : "";
        if (publish)
        {
            lock (Publishes) Publishes.Add(("start", body));
            var inFlight = Interlocked.Increment(ref _inFlight);
            InterlockedMax(ref _maxInFlight, inFlight);
            if (holdUntilInFlight > 0)
            {
                if (inFlight >= holdUntilInFlight) _enoughInFlight.TrySetResult();
                await Task.WhenAny(_enoughInFlight.Task, Task.Delay(TimeSpan.FromSeconds(10), cancellationToken));
            }
        }

        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken);
        }
        finally
        {
            if (publish)
            {
                Interlocked.Decrement(ref _inFlight);
                lock (Publishes) Publishes.Add(("end", body));
            }
        }

        if (publish && Interlocked.Increment(ref _lost) <= answersToLose)
        {
            response.Dispose();
            throw new HttpRequestException("The connection was reset after the request was sent (injected).");
        }

        return response;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen)
        {
            var was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen) return;
            seen = was;
        }
    }
}
