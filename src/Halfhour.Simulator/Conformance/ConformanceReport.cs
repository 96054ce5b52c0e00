using System.Text.Json;
using System.Text.Json.Serialization;

namespace Halfhour.Simulator.Conformance;

/// <summary>What the stubs of one role received against what the routing rules say they should have.</summary>
public sealed record RoleConformance
{
    /// <summary>The role code.</summary>
    public required string Role { get; init; }

    /// <summary>How many stubs hold the role.</summary>
    public int Stubs { get; init; }

    /// <summary>Copies the rules route to the role's stubs.</summary>
    public long Expected { get; init; }

    /// <summary>Distinct expected copies received (not counting replays).</summary>
    public long Received { get; init; }

    /// <summary>Expected copies never received.</summary>
    public long Missing { get; init; }

    /// <summary>Copies received that the rules do not route to the stub.</summary>
    public long Unexpected { get; init; }

    /// <summary>Copies that arrived before an earlier message of the same MPAN on the same channel.</summary>
    public long OutOfOrder { get; init; }

    /// <summary>Copies received more than once (allowed: delivery is at least once).</summary>
    public long Duplicates { get; init; }

    /// <summary>Copies whose replay indicator was wrong: set on a first delivery, or missing on a replay.</summary>
    public long ReplayMisMarked { get; init; }

    /// <summary>Messages replayed on request and checked.</summary>
    public long Replayed { get; init; }

    /// <summary>Copies whose A0 recipient lists differ from the recipients the rules give.</summary>
    public long RecipientsDiffer { get; init; }

    /// <summary>Pushes refused for a bad signature, unreadable messages, receive errors.</summary>
    public long Faults { get; init; }

    /// <summary>Answers the role's stubs owe for what was addressed to them (appointment flow messages, status messages for rejections).</summary>
    public long AnswersDue { get; init; }

    /// <summary>Of those, the answers the stubs sent and the backbone accepted.</summary>
    public long Answered { get; init; }

    /// <summary>Status messages the role's stubs should receive about their own messages (recipients' rejections).</summary>
    public long StatusesExpected { get; init; }

    /// <summary>Of those, the status messages received (one from an unexpected sender or about another message counts as unexpected).</summary>
    public long StatusesReceived { get; init; }

    /// <summary>True when nothing is wrong (duplicates are allowed).</summary>
    [JsonIgnore]
    public bool Conforms => Missing == 0 && Unexpected == 0 && OutOfOrder == 0 && ReplayMisMarked == 0 && RecipientsDiffer == 0 && Faults == 0
        && Answered == AnswersDue && StatusesReceived == StatusesExpected;
}

/// <summary>One recipient outage of the run: a webhook stub down for a while, and what it got after.</summary>
/// <param name="DipId">The stub.</param>
/// <param name="Role">Its role.</param>
/// <param name="DownSeconds">How long it refused pushes.</param>
/// <param name="HeldBack">Messages routed to it while it was down.</param>
/// <param name="ArrivedAfter">Of those, how many arrived after it came back.</param>
public sealed record OutageResult(string DipId, string Role, double DownSeconds, long HeldBack, long ArrivedAfter);

/// <summary>The result of a simulated market run: the traffic, per-role conformance and the outages.</summary>
public sealed record ConformanceReport
{
    /// <summary>Participants enrolled.</summary>
    public int Participants { get; init; }

    /// <summary>Metering points simulated.</summary>
    public int Mpans { get; init; }

    /// <summary>Consumption days simulated.</summary>
    public int Days { get; init; }

    /// <summary>Messages accepted by the backbone, per channel.</summary>
    public required IReadOnlyDictionary<string, long> Published { get; init; }

    /// <summary>Messages the backbone refused (each one a discrepancy: every message the stubs send is valid), with the first reasons.</summary>
    public required IReadOnlyList<string> Refused { get; init; }

    /// <summary>Seconds spent publishing.</summary>
    public double PublishSeconds { get; init; }

    /// <summary>Seconds from the first publication until every expected copy had arrived (or the wait ended).</summary>
    public double DeliverSeconds { get; init; }

    /// <summary>One row per role.</summary>
    public required IReadOnlyList<RoleConformance> Roles { get; init; }

    /// <summary>The outages of the run.</summary>
    public required IReadOnlyList<OutageResult> Outages { get; init; }

    /// <summary>The first few discrepancies, in words.</summary>
    public required IReadOnlyList<string> Examples { get; init; }

    /// <summary>True when every role conforms, nothing was refused and every outage's messages arrived after it.</summary>
    [JsonIgnore]
    public bool Conforms => Refused.Count == 0 && Roles.All(r => r.Conforms) && Outages.All(o => o.ArrivedAfter == o.HeldBack);

    /// <summary>Writes the report as JSON.</summary>
    public async Task WriteJsonAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        await JsonSerializer.SerializeAsync(stream, new { conforms = Conforms, report = this }, JsonOptions, cancellationToken).ConfigureAwait(false);
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}
