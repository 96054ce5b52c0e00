using System.Text;
using Halfhour.Broker.Messages;

namespace Halfhour.Broker.Tests.Messages;

public class StoredMessageTests
{
    private static readonly StoredMessage s_message = new()
    {
        InterfaceId = "IF-021",
        EventCode = "ActivePower",
        AcceptedAt = new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero),
        SenderDipId = "9900000004",
        SenderRole = "SDS",
        SenderUniqueReference = "S-IF-021-9900000004-SDS-20261126-1",
        CorrelationId = "C-1",
        Mpan = "1012345678903",
        Primary = ["9900000001"],
        Secondary = ["9900000002"],
        Always = ["9900000010", "9900000011"],
        Body = Encoding.UTF8.GetBytes("{\"payload\":{}}"),
    };

    [Fact]
    public void The_stored_form_reads_back_as_written()
    {
        var read = StoredMessage.Read(s_message.ToArray());
        Assert.Equal(s_message.SenderUniqueReference, read.SenderUniqueReference);
        Assert.Equal(s_message.AcceptedAt, read.AcceptedAt);
        Assert.Equal(s_message.Mpan, read.Mpan);
        Assert.Equal(s_message.Always, read.Always);
        Assert.Equal(s_message.Body.ToArray(), read.Body.ToArray());
    }

    [Fact]
    public void The_fan_out_finds_every_recipient_in_the_stored_bytes_in_tier_order()
    {
        var stored = s_message.ToArray();
        var ranges = new List<Range>();
        StoredMessage.FindRecipients(stored, ranges);
        Assert.Equal(["9900000001", "9900000002", "9900000010", "9900000011"], ranges.Select(r => Encoding.ASCII.GetString(stored.AsSpan(r))));
    }

    [Fact]
    public void The_reference_fields_read_from_the_stored_bytes_are_those_written_and_the_buffer_form_is_the_array_form()
    {
        var array = s_message.ToArray();
        var buffer = new byte[s_message.StoredSize + 7];
        var written = s_message.WriteTo(buffer);
        var reference = StoredMessage.ReadReference(array);

        Assert.Equal(array.Length, written);
        Assert.Equal(array, buffer[..written]);
        Assert.Equal(s_message.AcceptedAt, reference.AcceptedAt);
        Assert.Equal(("IF-021", "9900000004", "SDS", s_message.SenderUniqueReference),
            (Encoding.UTF8.GetString(reference.InterfaceId), Encoding.UTF8.GetString(reference.SenderDipId), Encoding.UTF8.GetString(reference.SenderRole),
                Encoding.UTF8.GetString(reference.SenderUniqueReference)));
        Assert.Throws<ArgumentException>(() => s_message.WriteTo(new byte[written - 1]));
    }

    [Fact]
    public void A_stored_form_of_an_unknown_layout_is_refused()
    {
        var stored = s_message.ToArray();
        stored[0] = 9;
        Assert.Throws<InvalidDataException>(() => StoredMessage.FindRecipients(stored, []));
        Assert.Throws<InvalidDataException>(() => StoredMessage.Read(stored));
    }
}
