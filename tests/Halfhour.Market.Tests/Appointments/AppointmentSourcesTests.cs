using System.Text.Json.Nodes;
using Halfhour.Market.Appointments;
using Halfhour.Market.Tests.Reference;

namespace Halfhour.Market.Tests.Appointments;

/// <summary>The fields the appointment book reads are the ones the spec's payload schemas define.</summary>
public class AppointmentSourcesTests
{
    private static readonly Lazy<JsonNode> Schemas = new(() => ReferenceFiles.Schemas);

    public static TheoryData<string, string, string, string?, string> Sources()
    {
        var data = new TheoryData<string, string, string, string?, string>();
        foreach (var s in AppointmentMessages.Sources)
        {
            data.Add(s.InterfaceId, s.EventCode, s.Block, s.Party, s.Day);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Sources))]
    public void Each_party_and_date_read_is_a_field_of_the_events_payload_schema(string interfaceId, string eventCode, string block, string? party, string day)
    {
        var payload = Resolve(Schemas.Value[interfaceId + "-" + eventCode.Trim('[', ']')]);
        Assert.NotNull(payload);
        var events = Resolve(Resolve(payload!["properties"]!["CommonBlock"])!["properties"]!["S0"])!["properties"]!["eventCode"]!["enum"]!.AsArray();
        Assert.Contains(eventCode, events.Select(e => (string)e!));

        var blockSchema = Resolve(Resolve(payload["properties"]!["CustomBlock"])!["properties"]![block]);
        Assert.NotNull(blockSchema);
        var fields = blockSchema!["properties"]!.AsObject();
        Assert.True(fields.ContainsKey(day), $"{interfaceId} {eventCode} {block} has no {day}");
        if (party is not null)
        {
            Assert.True(fields.ContainsKey(party), $"{interfaceId} {eventCode} {block} has no {party}");
            Assert.Equal("#/components/schemas/DT-006-DIPParticipantID", (string?)fields[party]!["$ref"]);
        }
    }

    private static JsonNode? Resolve(JsonNode? node) =>
        node?["$ref"] is JsonValue reference ? Schemas.Value[((string)reference!).Split('/')[^1]] : node;
}
