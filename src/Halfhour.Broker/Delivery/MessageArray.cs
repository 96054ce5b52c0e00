namespace Halfhour.Broker.Delivery;

/// <summary>The JSON array of stamped messages a recipient receives (webhook push, replay): the messages' bytes joined, never re-serialised.</summary>
public static class MessageArray
{
    /// <summary>
    /// Joins <paramref name="count"/> JSON messages, the i-th given by <paramref name="message"/>, into one array. Each message
    /// is asked for once: a caller that builds its message on demand gets the bytes it built, not a second build's.
    /// </summary>
    public static byte[] Join(int count, Func<int, byte[]> message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var messages = new byte[Math.Max(0, count)][];
        var length = 2 + Math.Max(0, count - 1);
        for (var i = 0; i < messages.Length; i++)
        {
            messages[i] = message(i);
            length += messages[i].Length;
        }

        var body = new byte[length];
        var position = 0;
        body[position++] = (byte)'[';
        for (var i = 0; i < messages.Length; i++)
        {
            if (i > 0) body[position++] = (byte)',';
            messages[i].CopyTo(body, position);
            position += messages[i].Length;
        }

        body[position] = (byte)']';
        return body;
    }
}
