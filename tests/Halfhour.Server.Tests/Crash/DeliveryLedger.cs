using System.Collections.Concurrent;
using System.Text.Json;
using Halfhour.Client.Contract;

namespace Halfhour.Server.Tests.Crash;

/// <summary>What was sent, answered and delivered, and every broken promise seen on the way.</summary>
internal sealed class DeliveryLedger(CrashMarket market)
{
    /// <summary>The sender unique reference inside a delivered message, wherever the envelope puts it.</summary>
    public static string? ReferenceIn(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.NameEquals("senderUniqueReference") && property.Value.ValueKind == JsonValueKind.String)
                {
                    return property.Value.GetString();
                }

                if (property.Value.ValueKind == JsonValueKind.Object && ReferenceIn(property.Value) is { } found)
                {
                    return found;
                }
            }
        }

        return null;
    }

    public int Kills;
    public long Unanswered;
    public long Duplicates;
    public long DeliveryCount;

    /// <summary>Sender unique reference → (transaction ID, message number).</summary>
    public ConcurrentDictionary<string, (string TransactionId, long Number)> Accepted { get; } = new();

    public ConcurrentQueue<string> Violations { get; } = new();

    private readonly ConcurrentDictionary<(string Recipient, string TransactionId), bool> _deliveries = new();

    public void Violation(string text) => Violations.Enqueue(text);

    /// <summary>Records a batch's answer; false when some message must be sent again (refused for a transient reason).</summary>
    public bool Record(List<long> batch, StandardResponse answer, bool retried)
    {
        if (answer.MessageArray.Count != batch.Count)
        {
            Violation($"{batch.Count} messages answered with {answer.MessageArray.Count} results");
            return true;
        }

        var complete = true;
        for (var i = 0; i < batch.Count; i++)
        {
            var result = answer.MessageArray[i];
            var code = result.Message ?? "";
            var reference = result.SenderUniqueReference ?? "";
            if (code.StartsWith("MSG1500", StringComparison.Ordinal) || code.StartsWith("MSG15", StringComparison.Ordinal))
            {
                complete = false;
                continue;
            }

            var success = code.StartsWith("MSG0000", StringComparison.Ordinal);
            var duplicate = code.StartsWith("MSG0001", StringComparison.Ordinal);
            if (!success && !duplicate)
            {
                Violation($"message {batch[i]} ({reference}) refused: {code} {result.Help}");
                continue;
            }

            if (result.TransactionId is not { Length: > 0 } transactionId)
            {
                Violation($"message {batch[i]} ({reference}) answered {code} without a transaction ID");
                continue;
            }

            if (duplicate)
            {
                Interlocked.Increment(ref Duplicates);
                if (!retried && !Accepted.ContainsKey(reference))
                {
                    Violation($"message {batch[i]} ({reference}) sent once and answered {code}");
                }
            }

            var known = Accepted.GetOrAdd(reference, (transactionId, batch[i]));
            if (known.TransactionId != transactionId)
            {
                Violation($"message {batch[i]} ({reference}) answered {transactionId} after {known.TransactionId}");
            }
        }

        return complete;
    }

    public void Delivered(string recipient, string transactionId, string? reference)
    {
        Interlocked.Increment(ref DeliveryCount);
        _deliveries[(recipient, transactionId)] = true;
        if (reference is null)
        {
            Violation($"{recipient} pulled {transactionId} without a sender unique reference in it");
        }
        else if (!Accepted.TryGetValue(reference, out var accepted))
        {
            // Possible only for a message stored while its sender is still retrying; checked again at the end.
            _unconfirmed.Enqueue((recipient, transactionId, reference));
        }
        else if (accepted.TransactionId != transactionId)
        {
            Violation($"{recipient} pulled {reference} as {transactionId}, accepted as {accepted.TransactionId}");
        }
    }

    private readonly ConcurrentQueue<(string Recipient, string TransactionId, string Reference)> _unconfirmed = new();

    /// <summary>Copies owed but not pulled; also turns deliveries that no answer ever confirmed into violations.</summary>
    public List<string> Missing()
    {
        var missing = new List<string>();
        foreach (var (reference, (transactionId, number)) in Accepted)
        {
            foreach (var recipient in market.RecipientsOf(number))
            {
                if (!_deliveries.ContainsKey((recipient, transactionId)))
                {
                    missing.Add($"{reference} ({transactionId}) to {recipient}");
                }
            }
        }

        foreach (var (recipient, transactionId, reference) in _unconfirmed)
        {
            if (!Accepted.TryGetValue(reference, out var accepted) || accepted.TransactionId != transactionId)
            {
                missing.Add($"{recipient} pulled {reference} as {transactionId}, which no answer confirmed");
            }
        }

        return missing;
    }
}
