namespace Halfhour.Broker.Delivery;

/// <summary>The JSON array of stamped messages a recipient receives (webhook push, replay): the messages' bytes joined, never re-serialised.</summary>
public static class MessageArray
{
    /// <summary>Joins <paramref name="count"/> JSON messages, the i-th given by <paramref name="message"/>, into one array.</summary>
    public static byte[] Join(int count, Func<int, byte[]> message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var length = 2 + Math.Max(0, count - 1);
        for (var i = 0; i < count; i++) length += message(i).Length;
        var body = new byte[length];
        var position = 0;
        body[position++] = (byte)'[';
        for (var i = 0; i < count; i++)
        {
            if (i > 0) body[position++] = (byte)',';
            var bytes = message(i);
            bytes.CopyTo(body, position);
            position += bytes.Length;
        }

        body[position] = (byte)']';
        return body;
    }
}
