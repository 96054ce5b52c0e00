using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Participants;
using Halfhour.Market.Tests.Reference;

namespace Halfhour.Market.Tests.Catalogue;

public class InterfaceCatalogueTests
{
    private static readonly InterfaceCatalogue s_catalogue = InterfaceCatalogue.Specification;

    [Fact]
    public void The_catalogue_holds_every_interface_the_specification_names_and_no_other()
    {
        var specified = ReferenceFiles.Schemas["DT-000-InterfaceID"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()).ToList();
        Assert.Equal(58, specified.Count);
        Assert.Equal(specified, s_catalogue.All.Select(i => i.InterfaceId));
        Assert.Equal(46, specified.Count(id => id.StartsWith("IF-", StringComparison.Ordinal)));
        Assert.Equal("2.2.1", s_catalogue.SpecificationVersion);
    }

    [Fact]
    public void Every_interface_has_the_event_codes_schema_versions_and_payload_schemas_of_the_specification()
    {
        var schemas = ReferenceFiles.Schemas;
        foreach (var definition in s_catalogue.All)
        {
            var payload = schemas[definition.InterfaceId + "-Payload"]!.AsObject();
            var variants = payload["oneOf"] is JsonArray oneOf
                ? oneOf.Select(r => r!["$ref"]!.GetValue<string>().Split('/')[^1]).ToList()
                : [definition.InterfaceId + "-Payload"];
            var expected = new List<(string Code, string Versions, string Payload, bool Mpan)>();
            foreach (var name in variants)
            {
                var common = schemas[name]!["properties"]!["CommonBlock"]!;
                var s0 = common["properties"]!["S0"]!["properties"]!;
                var versions = string.Join(",", s0["schemaVersion"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()));
                var mpan = common["required"]!.AsArray().Any(r => r!.GetValue<string>() == "M0");
                foreach (var code in s0["eventCode"]!["enum"]!.AsArray())
                {
                    expected.Add((code!.GetValue<string>().Trim('[', ']'), versions, name, mpan));
                }
            }

            var actual = definition.Events.Select(e => (e.EventCode, string.Join(",", e.SchemaVersions), e.PayloadName, e.IsAboutMeteringPoint)).ToList();
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Every_validation_path_of_the_specification_names_an_event_of_the_catalogue()
    {
        var paths = ReferenceFiles.Specification["paths"]!.AsObject().Select(p => p.Key).Where(p => p.StartsWith("/validate/", StringComparison.Ordinal)).ToList();
        Assert.Equal(127, paths.Count);
        foreach (var path in paths)
        {
            var parts = path.Split('/');
            Assert.True(s_catalogue.TryGetVariant(parts[2], parts[3], out _), $"{path} has no variant in the catalogue");
        }

        Assert.Equal(146, s_catalogue.Variants.Count);
    }

    [Fact]
    public void Names_publications_and_roles_agree_with_the_interface_catalogue_transcription()
    {
        var checkedCount = 0;
        foreach (var item in ReferenceFiles.Catalogue)
        {
            var parts = item!["id"]!.GetValue<string>().Split('/');
            Assert.True(s_catalogue.TryGet(parts[0], out var definition), $"{parts[0]} missing");
            Assert.Equal(item["name"]!.GetValue<string>(), definition.Name);
            Assert.Equal(parts[1], definition.PublicationId);
            Assert.Equal(RolesNamedIn(item["sender"]!.GetValue<string>()), definition.SendingRoles.Order());
            Assert.Equal(RolesNamedIn(item["receiver"]!.GetValue<string>()), definition.ReceivingRoles.Order());
            checkedCount++;
        }

        Assert.Equal(45, checkedCount);
    }

    [Fact]
    public void Interfaces_outside_the_transcription_still_have_a_sender_a_receiver_and_a_publication()
    {
        var transcribed = ReferenceFiles.Catalogue.Select(i => i!["id"]!.GetValue<string>().Split('/')[0]).ToHashSet();
        var others = s_catalogue.All.Where(i => !transcribed.Contains(i.InterfaceId)).ToList();
        Assert.Equal(13, others.Count); // IF-051 and the twelve reports
        Assert.All(others, i =>
        {
            Assert.NotEmpty(i.SendingRoles);
            Assert.NotEmpty(i.ReceivingRoles);
            Assert.InRange(i.PublicationId.Length, 7, 8);
        });
    }

    [Fact]
    public void Lookup_by_id_finds_each_interface_by_string_and_by_span_and_nothing_else()
    {
        Assert.True(s_catalogue.TryGet("IF-021", out var byString));
        Assert.True(s_catalogue.TryGet("IF-021".AsSpan(), out var bySpan));
        Assert.Same(byString, bySpan);
        Assert.Equal("PUB-021", byString.PublicationId);
        Assert.Contains(Role.SDS, byString.SendingRoles);
        Assert.False(s_catalogue.TryGet("IF-999", out _));
        Assert.False(s_catalogue.TryGet("if-021", out _));
    }

    // An independent reading of the transcription's role text: codes where it gives them, names where it does not.
    private static readonly (string Phrase, Role[] Roles)[] s_phrases =
    [
        ("Public (All Roles)", Enum.GetValues<Role>().Where(r => r != Role.DIP).ToArray()),
        ("Public (via separate file-sharing mechanism)", []),
        ("Incumbent Metering Service", [Role.MSS, Role.MSA]),
        ("Marketwide Data Service", [Role.MDS]),
        ("Market-wide Data Service", [Role.MDS]),
        ("Smart Data Service", [Role.SDS]),
        ("Advanced Data Service", [Role.ADS]),
        ("Advanced Metering Service", [Role.MSA]),
        ("Smart Metering Service", [Role.MSS]),
        ("Metering Service Smart", [Role.MSS]),
        ("Metering Service Advanced", [Role.MSA]),
        ("Unmetered Supplies Operator", [Role.UMSO]),
        ("Load Shaping Service", [Role.LSS]),
        ("Registration Service", [Role.REGS]),
        ("Elexon Central Services", [Role.ECS]),
        ("Data Communications Company", [Role.DCC]),
        ("Meter Data Retriever", [Role.MDR]),
        ("Meter Data Retreiver", [Role.MDR]),
        ("DIP Replay Service", [Role.DIP]),
        ("Distributor", [Role.LDSO]),
        ("Supplier", [Role.SUP]),
        ("Data Service", [Role.SDS, Role.ADS, Role.UMSDS]),
        ("Metering Service", [Role.MSS, Role.MSA, Role.UMSO]),
        ("MS", [Role.MSS, Role.MSA]),
        ("DS", [Role.SDS, Role.ADS]),
        ("DIP", [Role.DIP]),
    ];

    private static List<Role> RolesNamedIn(string text)
    {
        var found = new HashSet<Role>();
        foreach (var (phrase, roles) in s_phrases)
        {
            var pattern = $"(?<![A-Za-z]){Regex.Escape(phrase)}(?![A-Za-z])";
            if (Regex.IsMatch(text, pattern))
            {
                found.UnionWith(roles);
                text = Regex.Replace(text, pattern, " ");
            }
        }

        foreach (var role in Enum.GetValues<Role>())
        {
            if (Regex.IsMatch(text, $"(?<![A-Za-z]){role}(?![A-Za-z])"))
            {
                found.Add(role);
            }
        }

        return found.Order().ToList();
    }
}
