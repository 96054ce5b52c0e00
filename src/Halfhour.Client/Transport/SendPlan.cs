using Halfhour.Client.Messages;

namespace Halfhour.Client.Transport;

/// <summary>
/// How a send is split into requests: per channel, in the order given, at most a batch each; and which earlier requests
/// each must wait for so that the messages of one MPAN reach the backbone in the order given (the latest earlier
/// request of the channel holding one of its MPANs). Requests that share no MPAN may go at once.
/// </summary>
internal static class SendPlan
{
    /// <summary>One request: its channel, the indexes of its messages, and the requests (by position in the plan) to finish first.</summary>
    public sealed record Request(string Channel, int[] Indexes, IReadOnlyList<int> After);

    /// <summary>The requests for <paramref name="messages"/> (whose channels are <paramref name="channels"/>), in batches of <paramref name="batchSize"/>.</summary>
    public static IReadOnlyList<Request> Of(IReadOnlyList<DipMessage> messages, string[] channels, int batchSize)
    {
        var requests = new List<Request>();
        foreach (var channel in channels.Distinct(StringComparer.Ordinal))
        {
            // The request of this channel that last held each MPAN.
            var lastHolding = new Dictionary<string, int>(StringComparer.Ordinal);
            var indexes = Enumerable.Range(0, channels.Length).Where(i => channels[i] == channel);
            foreach (var chunk in indexes.Chunk(batchSize))
            {
                var after = new SortedSet<int>();
                foreach (var i in chunk)
                {
                    if (messages[i].Mpan is not { } mpan) continue;
                    // Messages of one MPAN in the same request are stored in their order within it; only an earlier request is waited for.
                    if (lastHolding.TryGetValue(mpan, out var earlier) && earlier != requests.Count) after.Add(earlier);
                    lastHolding[mpan] = requests.Count;
                }

                requests.Add(new Request(channel, chunk, [.. after]));
            }
        }

        return requests;
    }
}
