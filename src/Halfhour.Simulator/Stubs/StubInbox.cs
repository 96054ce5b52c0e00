using System.Text.Json;

namespace Halfhour.Simulator.Stubs;

/// <summary>One copy of a message as a stub received it.</summary>
/// <param name="Channel">The channel it came on.</param>
/// <param name="TransactionId">D0.transactionID.</param>
/// <param name="Mpan">M0.MPANCore, or 0.</param>
/// <param name="Replay">D0.replayIndicator.</param>
/// <param name="Recipients">A0's three lists together: every recipient the backbone says the message went to.</param>
/// <param name="ArrivedAt">When it arrived.</param>
/// <param name="EventCode">S0.eventCode, without brackets.</param>
/// <param name="SenderDipId">S1.senderDIPID.</param>
/// <param name="Primary">A0.primaryRecipients: those the sender addressed.</param>
public sealed record ReceivedCopy(string Channel, string TransactionId, long Mpan, bool Replay, IReadOnlyList<string> Recipients, DateTimeOffset ArrivedAt,
    string EventCode = "", string SenderDipId = "", IReadOnlyList<string>? Primary = null);

/// <summary>A status message a stub received about a message it sent: which message, and who sent the status.</summary>
/// <param name="TransactionId">The transaction ID of the stub's message.</param>
/// <param name="SenderDipId">The recipient that sent the status.</param>
public sealed record ReceivedStatus(string TransactionId, string SenderDipId);

/// <summary>
/// What one stub received, in arrival order, and whether it is "down" (its webhook refusing with 503, as a recipient's
/// system does during an outage). Thread-safe: webhook requests and pull loops record concurrently.
/// </summary>
public sealed class StubInbox
{
    private readonly List<ReceivedCopy> _copies = [];
    private readonly List<string> _faults = [];
    private readonly HashSet<string> _distinct = new(StringComparer.Ordinal);
    private readonly List<ReceivedStatus> _statuses = [];
    private volatile bool _down;

    /// <summary>The stub's DIP ID.</summary>
    public required string DipId { get; init; }

    /// <summary>
    /// What the stub does with each message the first time it receives it (not replays, not repeats): its role's
    /// answers. Called on the receiving thread, with the message only valid during the call.
    /// </summary>
    public Action<ReceivedCopy, JsonElement>? OnFirstCopy { get; init; }

    /// <summary>The status messages received so far, in arrival order.</summary>
    public IReadOnlyList<ReceivedStatus> Statuses
    {
        get
        {
            lock (_statuses) return [.. _statuses];
        }
    }

    /// <summary>True while the stub is out of service.</summary>
    public bool IsDown
    {
        get => _down;
        set => _down = value;
    }

    /// <summary>The copies received so far, in arrival order.</summary>
    public IReadOnlyList<ReceivedCopy> Copies
    {
        get
        {
            lock (_copies) return [.. _copies];
        }
    }

    /// <summary>Problems seen while receiving (bad signatures, unreadable messages).</summary>
    public IReadOnlyList<string> Faults
    {
        get
        {
            lock (_faults) return [.. _faults];
        }
    }

    /// <summary>How many distinct messages have arrived outside replays.</summary>
    public int Distinct
    {
        get
        {
            lock (_copies) return _distinct.Count;
        }
    }

    /// <summary>Records a problem.</summary>
    public void Fault(string problem)
    {
        lock (_faults) _faults.Add(problem);
    }

    /// <summary>Records a stamped message (<c>{"payload":…}</c>) received on a channel.</summary>
    public ReceivedCopy Record(string channel, JsonElement message)
    {
        var copy = Read(channel, message, DateTimeOffset.UtcNow);
        bool first;
        lock (_copies)
        {
            _copies.Add(copy);
            first = !copy.Replay && _distinct.Add(copy.TransactionId);
        }

        if (first) OnFirstCopy?.Invoke(copy, message);
        return copy;
    }

    /// <summary>Records a status message (a DIP StandardResponseBodyType) received about one of the stub's messages.</summary>
    public void RecordStatus(JsonElement status)
    {
        var transactionId = status.TryGetProperty("transactionID", out var t) ? t.GetString() : null;
        var sender = status.TryGetProperty("senderID", out var s) ? s.GetString() : null;
        var recipient = status.TryGetProperty("recipientID", out var r) ? r.GetString() : null;
        if (transactionId is null || sender is null || recipient != DipId)
        {
            Fault($"a status message without transactionID or senderID, or addressed to {recipient ?? "nobody"}: {status.GetRawText()}");
            return;
        }

        lock (_statuses) _statuses.Add(new ReceivedStatus(transactionId, sender));
    }

    /// <summary>Reads what conformance needs of a stamped message.</summary>
    public static ReceivedCopy Read(string channel, JsonElement message, DateTimeOffset arrivedAt)
    {
        var common = message.GetProperty("payload").GetProperty("CommonBlock");
        var d0 = common.GetProperty("D0");
        var mpan = common.TryGetProperty("M0", out var m0) && m0.ValueKind == JsonValueKind.Object && m0.TryGetProperty("MPANCore", out var core)
            ? long.Parse(core.GetString()!, System.Globalization.CultureInfo.InvariantCulture)
            : 0;
        var recipients = new List<string>();
        var primary = new List<string>();
        if (common.TryGetProperty("A0", out var a0) && a0.ValueKind == JsonValueKind.Object)
        {
            foreach (var list in (string[])["primaryRecipients", "secondaryRecipients", "always"])
            {
                if (a0.TryGetProperty(list, out var ids) && ids.ValueKind == JsonValueKind.Array)
                {
                    recipients.AddRange(ids.EnumerateArray().Select(id => id.GetString()!));
                    if (list == "primaryRecipients") primary.AddRange(ids.EnumerateArray().Select(id => id.GetString()!));
                }
            }
        }

        return new ReceivedCopy(channel, d0.GetProperty("transactionID").GetString()!, mpan,
            d0.TryGetProperty("replayIndicator", out var replay) && replay.ValueKind == JsonValueKind.True, recipients, arrivedAt,
            common.GetProperty("S0").GetProperty("eventCode").GetString()!.Trim('[', ']'), common.GetProperty("S1").GetProperty("senderDIPID").GetString()!, primary);
    }
}
