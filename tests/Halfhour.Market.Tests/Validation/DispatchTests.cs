using System.Text;
using Halfhour.Market.Catalogue;
using Halfhour.Market.TestData;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Validation;

public class DispatchTests
{
    private static readonly MessageValidator s_validator = new();

    private static string Valid(string id = "IF-021", string code = "ActivePower")
    {
        InterfaceCatalogue.Specification.TryGetVariant(id, code, out var variant);
        return Encoding.UTF8.GetString(new MessageGenerator().GenerateUtf8(variant!, 2));
    }

    private static ValidationResult Validate(string json, MessageFacts? facts = null) =>
        s_validator.Validate(Encoding.UTF8.GetBytes(json), facts ?? new MessageFacts());

    [Fact]
    public void An_interface_the_catalogue_does_not_hold_is_an_unknown_interface()
    {
        var result = Validate(Valid().Replace("\"IF-021\"", "\"IF-099\"", StringComparison.Ordinal));
        Assert.Equal(MessageCode.UnknownInterface, result.Code);
        Assert.Equal("/payload/CommonBlock/S0/interfaceID", result.Pointer);
    }

    [Fact]
    public void An_event_code_the_interface_does_not_define_is_an_unknown_event()
    {
        var result = Validate(Valid().Replace("[ActivePower]", "[MeterInstall]", StringComparison.Ordinal));
        Assert.Equal(MessageCode.UnknownEventOrVersion, result.Code);
        Assert.Equal("/payload/CommonBlock/S0/eventCode", result.Pointer);
        Assert.Contains("[ActivePower], [ReactivePower]", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void An_event_code_without_brackets_is_an_unknown_event()
    {
        var result = Validate(Valid().Replace("[ActivePower]", "ActivePower", StringComparison.Ordinal));
        Assert.Equal(MessageCode.UnknownEventOrVersion, result.Code);
    }

    [Fact]
    public void A_schema_version_the_event_does_not_define_is_an_unknown_version()
    {
        var result = Validate(Valid().Replace("\"schemaVersion\":\"011\"", "\"schemaVersion\":\"010\"", StringComparison.Ordinal));
        Assert.Equal(MessageCode.UnknownEventOrVersion, result.Code);
        Assert.Equal("/payload/CommonBlock/S0/schemaVersion", result.Pointer);
    }

    [Fact]
    public void A_message_without_an_interface_ID_misses_a_required_field()
    {
        var result = Validate(Valid().Replace("\"interfaceID\":\"IF-021\",", "", StringComparison.Ordinal));
        Assert.Equal(MessageCode.SchemaFailure, result.Code);
        Assert.Equal("/payload/CommonBlock/S0/interfaceID", result.Pointer);
        Assert.Equal("schema:required", result.Rule);
    }

    [Fact]
    public void The_common_block_may_come_after_the_custom_block_and_S0_after_S1()
    {
        var json = Valid();
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
        var payload = node["payload"]!.AsObject();
        var common = payload["CommonBlock"]!.AsObject();
        var s0 = common["S0"]!;
        common.Remove("S0");
        common["S0"] = s0;
        var commonBlock = payload["CommonBlock"]!;
        payload.Remove("CommonBlock");
        payload["CommonBlock"] = commonBlock;
        var facts = new MessageFacts();
        Assert.True(Validate(node.ToJsonString(), facts).IsValid);
        Assert.Equal("IF-021", facts.InterfaceId);
    }

    [Fact]
    public void The_validator_fills_the_facts_the_backbone_routes_by()
    {
        var facts = new MessageFacts();
        Assert.True(Validate(Valid(), facts).IsValid);
        Assert.Equal("DEV", facts.EnvironmentTag);
        Assert.Equal(13, facts.Mpan!.Length);
        Assert.Equal(10, facts.SenderDipId!.Length);
        Assert.NotNull(facts.SenderUniqueReference);
        Assert.NotNull(facts.DistributorDipId);
        Assert.NotNull(facts.GspGroupId);
        Assert.Single(facts.PrimaryRecipients);
        Assert.Contains(facts.SenderRoleId, new[] { "SDS", "ADS", "UMSDS" });
    }

    [Fact]
    public void A_dedicated_validator_takes_over_its_interface_only()
    {
        var validator = new MessageValidator();
        var dedicated = new Refusing();
        validator.UseFor("IF-021", dedicated);
        var facts = new MessageFacts();
        Assert.Equal(MessageCode.SemanticFailure, validator.Validate(Encoding.UTF8.GetBytes(Valid()), facts).Code);
        Assert.Equal(1, dedicated.Calls);
        Assert.True(validator.Validate(Encoding.UTF8.GetBytes(Valid("IF-022", "LSSPeriodData")), facts).IsValid);
        Assert.Equal(1, dedicated.Calls);
    }

    private sealed class Refusing : IMessageValidator
    {
        public int Calls { get; private set; }

        public ValidationResult Validate(ReadOnlySpan<byte> utf8Message, MessageFacts facts)
        {
            Calls++;
            return ValidationResult.Fail(MessageCode.SemanticFailure, "/payload", "test", "refused by the dedicated validator");
        }
    }
}
