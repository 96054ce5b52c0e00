using Halfhour.Market.Catalogue;
using Halfhour.Market.Entitlement;
using Halfhour.Market.Participants;
using Halfhour.Market.TestData;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Entitlement;

public class MessageGateTests
{
    private static readonly SyntheticMarket s_market = new();
    private static readonly MessageGate s_gate = new(InterfaceCatalogue.Specification, s_market.Directory);
    private static readonly MessageValidator s_validator = new();

    private static (MessageFacts Facts, Participant Sender) Consumption()
    {
        var variant = Variant("IF-021", "ActivePower");
        var facts = new MessageFacts();
        Assert.True(s_validator.Validate(new MessageGenerator(market: s_market).GenerateUtf8(variant, 3), facts).IsValid);
        return (facts, s_market.Participants.Single(p => p.DipId == facts.SenderDipId));
    }

    private static PayloadVariant Variant(string id, string code) =>
        InterfaceCatalogue.Specification.TryGetVariant(id, code, out var v) ? v : throw new InvalidOperationException();

    [Fact]
    public void A_message_from_its_sender_on_its_channel_to_a_receiving_role_passes()
    {
        var (facts, sender) = Consumption();
        Assert.Equal(ValidationResult.Valid, s_gate.Check(facts, "IF-021", sender));
    }

    [Fact]
    public void Every_generated_message_passes_the_gate_for_its_own_sender()
    {
        var generator = new MessageGenerator(market: s_market);
        foreach (var variant in InterfaceCatalogue.Specification.Variants)
        {
            var facts = new MessageFacts();
            Assert.True(s_validator.Validate(generator.GenerateUtf8(variant, 5), facts).IsValid);
            var sender = s_market.Directory.Find(s_market.Environment, facts.SenderDipId!)!;
            var result = s_gate.Check(facts, variant.InterfaceId, sender);
            Assert.True(result.IsValid, $"{variant}: {result}");
        }
    }

    [Fact]
    public void A_message_on_another_interfaces_channel_is_an_interface_mismatch()
    {
        var (facts, sender) = Consumption();
        var result = s_gate.Check(facts, "IF-022", sender);
        Assert.Equal(MessageCode.InterfaceMismatch, result.Code);
        Assert.Equal("/payload/CommonBlock/S0/interfaceID", result.Pointer);
    }

    [Fact]
    public void A_message_claiming_another_sender_is_a_sender_mismatch()
    {
        var (facts, _) = Consumption();
        var other = s_market.Holding(Role.ADS) with { DipId = "2999999999" };
        var result = s_gate.Check(facts, "IF-021", other);
        Assert.Equal(MessageCode.SenderMismatch, result.Code);
        Assert.Equal("/payload/CommonBlock/S1/senderDIPID", result.Pointer);
    }

    [Fact]
    public void A_sender_role_other_than_the_callers_is_a_sender_mismatch()
    {
        var (facts, sender) = Consumption();
        facts.SenderRoleId = "SUP";
        var result = s_gate.Check(facts, "IF-021", sender);
        Assert.Equal(MessageCode.SenderMismatch, result.Code);
        Assert.Equal("/payload/CommonBlock/S1/senderRoleID", result.Pointer);
    }

    [Fact]
    public void An_environment_tag_other_than_the_credentials_is_an_environment_mismatch()
    {
        var (facts, sender) = Consumption();
        var result = s_gate.Check(facts, "IF-021", sender with { Environment = MarketEnvironment.PRD });
        Assert.Equal(MessageCode.EnvironmentMismatch, result.Code);
        Assert.Equal("/payload/CommonBlock/S1/environmentTag", result.Pointer);
    }

    [Fact]
    public void A_role_the_catalogue_does_not_let_send_the_interface_is_not_entitled()
    {
        var (facts, _) = Consumption();
        var supplier = s_market.Holding(Role.SUP);
        facts.SenderDipId = supplier.DipId;
        facts.SenderRoleId = "SUP";
        var result = s_gate.Check(facts, "IF-021", supplier);
        Assert.Equal(MessageCode.NotEntitled, result.Code);
        Assert.Contains("SDS", result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1234567890", "is no participant")]
    [InlineData("REGS", "does not receive IF-021")]
    public void A_primary_recipient_that_is_unknown_or_holds_no_receiving_role_is_invalid(string recipient, string why)
    {
        var (facts, sender) = Consumption();
        facts.PrimaryRecipients.Clear();
        facts.PrimaryRecipients.Add(s_market.Holding(Role.LSS).DipId);
        facts.PrimaryRecipients.Add(recipient == "REGS" ? s_market.Holding(Role.REGS).DipId : recipient);
        var result = s_gate.Check(facts, "IF-021", sender);
        Assert.Equal(MessageCode.InvalidRecipient, result.Code);
        Assert.Equal("/payload/CommonBlock/A0/primaryRecipients/1", result.Pointer);
        Assert.Contains(why, result.Detail, StringComparison.Ordinal);
    }
}
