using System.Text;
using System.Text.Json;
using Halfhour.Broker.Delivery;

namespace Halfhour.Broker.Tests.Delivery;

public sealed class MessageArrayTests
{
    [Fact]
    public void Messages_are_joined_byte_for_byte_into_one_json_array()
    {
        string[] messages = ["{\"a\":1}", "{\"b\":\"x,y\"}", "{}"];
        var body = MessageArray.Join(messages.Length, i => Encoding.UTF8.GetBytes(messages[i]));
        Assert.Equal("[" + string.Join(',', messages) + "]", Encoding.UTF8.GetString(body));
        Assert.Equal("[]", Encoding.UTF8.GetString(MessageArray.Join(0, _ => throw new InvalidOperationException("no message to ask for"))));
    }

    [Fact]
    public void A_message_built_on_demand_is_asked_for_once_and_its_first_build_is_sent()
    {
        // The webhook conformance checker builds its message when asked; a second build (a new ID, a longer one) once
        // overflowed the body sized by the first.
        var builds = 0;
        var body = MessageArray.Join(1, _ => Encoding.UTF8.GetBytes($"{{\"build\":\"{new string('x', ++builds * 10)}\"}}"));
        Assert.Equal(1, builds);
        var sent = JsonDocument.Parse(body).RootElement;
        Assert.Equal(new string('x', 10), sent[0].GetProperty("build").GetString());
    }
}
