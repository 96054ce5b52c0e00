using System.Text.Json;
using Halfhour.Market.Catalogue;
using Halfhour.Market.Envelope;
using Halfhour.Market.Tests.Reference;
using Halfhour.Market.TestData;
using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Envelope;

public class EgressWriterTests
{
    private static readonly MessageValidator s_validator = new();
    private static readonly MessageGenerator s_generator = new();

    private static EgressStamp Stamp(PayloadVariant variant) => new()
    {
        TransactionId = "T-" + variant.InterfaceId + "-0000000001",
        TransactionTimestamp = new DateTimeOffset(2025, 7, 1, 12, 30, 0, TimeSpan.FromHours(1)),
        PublicationId = variant.Interface.PublicationId,
        InitialCorrelationId = "C-first",
        ReplayIndicator = false,
        SecondaryRecipients = ["2000000010", "2000000011"],
        Always = ["2000000017"],
    };

    [Fact]
    public void Every_variant_stamped_for_delivery_still_validates_and_the_specification_accepts_it()
    {
        foreach (var variant in InterfaceCatalogue.Specification.Variants)
        {
            var message = s_generator.GenerateUtf8(variant, 9);
            var stamped = EgressWriter.Stamp(message, Stamp(variant));
            var result = s_validator.Validate(stamped, new MessageFacts());
            Assert.True(result.IsValid, $"{variant}: {result}");
            using var document = JsonDocument.Parse(stamped);
            var common = document.RootElement.GetProperty("payload").GetProperty("CommonBlock");
            Assert.Equal(variant.Interface.PublicationId, common.GetProperty("D0").GetProperty("publicationID").GetString());
        }
    }

    [Fact]
    public void Stamping_sets_D0_and_the_added_recipients_and_keeps_everything_else_byte_for_byte()
    {
        InterfaceCatalogue.Specification.TryGetVariant("IF-021", "ActivePower", out var variant);
        var original = s_generator.Generate(variant!, 4);
        var stamped = EgressWriter.Stamp(MessageGenerator.ToUtf8(original), Stamp(variant!));
        Assert.True(SpecificationSchema.Accepts(stamped));

        using var document = JsonDocument.Parse(stamped);
        var common = document.RootElement.GetProperty("payload").GetProperty("CommonBlock");
        var d0 = common.GetProperty("D0");
        Assert.Equal("T-IF-021-0000000001", d0.GetProperty("transactionID").GetString());
        Assert.Equal("2025-07-01T11:30:00+00:00", d0.GetProperty("transactionTimestamp").GetString());
        Assert.Equal("PUB-021", d0.GetProperty("publicationID").GetString());
        Assert.Equal("C-first", d0.GetProperty("initialCorrelationID").GetString());
        Assert.False(d0.GetProperty("replayIndicator").GetBoolean());
        Assert.Equal(JsonValueKind.Null, d0.GetProperty("serviceTicketURL").ValueKind);
        var a0 = common.GetProperty("A0");
        Assert.Equal(original["payload"]!["CommonBlock"]!["A0"]!["primaryRecipients"]![0]!.GetValue<string>(), a0.GetProperty("primaryRecipients")[0].GetString());
        Assert.Equal(2, a0.GetProperty("secondaryRecipients").GetArrayLength());
        Assert.Equal("2000000017", a0.GetProperty("always")[0].GetString());

        var custom = original["payload"]!["CustomBlock"]!.ToJsonString(MessageGenerator.WireOptions);
        Assert.Equal(custom, document.RootElement.GetProperty("payload").GetProperty("CustomBlock").GetRawText());
    }

    [Fact]
    public void A_message_without_A0_gets_one_and_a_D0_the_sender_wrote_is_replaced()
    {
        InterfaceCatalogue.Specification.TryGetVariant("IF-047", "ISD", out var variant);
        var original = s_generator.Generate(variant!, 4);
        var common = original["payload"]!["CommonBlock"]!.AsObject();
        common.Remove("A0");
        common["D0"] = new System.Text.Json.Nodes.JsonObject { ["transactionID"] = "forged" };
        var stamped = EgressWriter.Stamp(MessageGenerator.ToUtf8(original), Stamp(variant!));
        Assert.True(s_validator.Validate(stamped, new MessageFacts()).IsValid);
        using var document = JsonDocument.Parse(stamped);
        var written = document.RootElement.GetProperty("payload").GetProperty("CommonBlock");
        Assert.Equal("T-IF-047-0000000001", written.GetProperty("D0").GetProperty("transactionID").GetString());
        Assert.Equal(0, written.GetProperty("A0").GetProperty("primaryRecipients").GetArrayLength());
    }

    [Fact]
    public void The_payload_is_stamped_alike_whatever_the_order_of_its_blocks_and_its_whitespace()
    {
        InterfaceCatalogue.Specification.TryGetVariant("IF-021", "ActivePower", out var variant);
        var original = s_generator.Generate(variant!, 5);
        var payload = original["payload"]!.AsObject();
        var reordered = new System.Text.Json.Nodes.JsonObject
        {
            ["payload"] = new System.Text.Json.Nodes.JsonObject
            {
                ["CustomBlock"] = payload["CustomBlock"]!.DeepClone(),
                ["CommonBlock"] = payload["CommonBlock"]!.DeepClone(),
            },
        };
        var indented = System.Text.Encoding.UTF8.GetBytes(original.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n ");

        var usual = EgressWriter.Stamp(MessageGenerator.ToUtf8(original), Stamp(variant!));
        foreach (var other in new[] { EgressWriter.Stamp(MessageGenerator.ToUtf8(reordered), Stamp(variant!)), EgressWriter.Stamp(indented, Stamp(variant!)) })
        {
            Assert.True(s_validator.Validate(other, new MessageFacts()).IsValid);
            using var expected = JsonDocument.Parse(usual);
            using var actual = JsonDocument.Parse(other);
            foreach (var block in new[] { "CommonBlock", "CustomBlock" })
            {
                Assert.True(JsonElement.DeepEquals(expected.RootElement.GetProperty("payload").GetProperty(block), actual.RootElement.GetProperty("payload").GetProperty(block)), block);
            }

            Assert.Single(actual.RootElement.EnumerateObject());
        }
    }
}
