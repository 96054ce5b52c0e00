using Halfhour.Market.Validation;

namespace Halfhour.Market.Tests.Validation;

public class MessageCodesTests
{
    [Theory]
    [InlineData(MessageCode.Success, "MSG0000 - Success")]
    [InlineData(MessageCode.SchemaFailure, "MSG1001 - Schema Failure")]
    [InlineData(MessageCode.StorageUnavailable, "MSG1500 - Storage Unavailable - Retry")]
    public void Codes_are_written_in_the_DIP_style(MessageCode code, string expected)
        => Assert.Equal(expected, MessageCodes.Display(code));

    [Fact]
    public void Every_code_has_a_distinct_wire_form_and_a_text()
    {
        var codes = Enum.GetValues<MessageCode>();
        Assert.Equal(codes.Length, codes.Select(MessageCodes.Code).Distinct().Count());
        Assert.DoesNotContain(codes, c => MessageCodes.Text(c) == "Unknown");
    }

    [Fact]
    public void Only_success_and_duplicate_count_as_accepted()
    {
        Assert.Equal([MessageCode.Success, MessageCode.Duplicate], Enum.GetValues<MessageCode>().Where(MessageCodes.IsAccepted));
    }
}
