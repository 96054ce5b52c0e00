using System.Text.Json;

namespace Halfhour.Market.Envelope;

/// <summary>
/// The messages of a DIP request body: a JSON array of <c>{"payload":…}</c> objects (what
/// <c>POST /dip-channel/{id}</c> takes), or a single message object. Finds each message's bytes without
/// parsing them, so each can be validated, and accepted or refused, on its own.
/// </summary>
public static class MessageBatch
{
    /// <summary>
    /// The deepest nesting a batch is read through: twice the validator's default depth limit, so every
    /// message the validator would judge (or refuse as too deep) is found; deeper elements make the whole body unreadable.
    /// </summary>
    private const int ReadDepth = 64;

    /// <summary>
    /// Adds the byte range of each message of <paramref name="body"/> to <paramref name="messages"/>; false when
    /// the body is not a well-formed JSON array or object (nothing usable is added then).
    /// </summary>
    public static bool TrySplit(ReadOnlySpan<byte> body, List<Range> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var first = messages.Count;
        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = ReadDepth });
            if (!reader.Read())
            {
                return false;
            }

            if (reader.TokenType == JsonTokenType.StartObject)
            {
                reader.Skip();
                messages.Add(new Range(0, (int)reader.BytesConsumed));
                return !reader.Read();
            }

            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                var start = (int)reader.TokenStartIndex;
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    reader.Skip();
                }

                messages.Add(new Range(start, (int)reader.BytesConsumed));
            }

            return !reader.Read();
        }
        catch (JsonException)
        {
            messages.RemoveRange(first, messages.Count - first);
            return false;
        }
    }

    /// <summary>Moves <paramref name="reader"/> from the first token of a message to its last; the message's bytes.</summary>
    internal static Range SkipMessage(ref Utf8JsonReader reader)
    {
        var start = (int)reader.TokenStartIndex;
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
        }

        return new Range(start, (int)reader.BytesConsumed);
    }

    /// <summary>
    /// Moves <paramref name="reader"/> from wherever a validator stopped inside the message whose first token was at
    /// <paramref name="start"/> (depth <paramref name="depth"/>) to the message's last token: a validator reading a message
    /// in place stops at its first schema failure, and the batch around it is read on from the message's end.
    /// </summary>
    internal static void SkipRestOfMessage(ref Utf8JsonReader reader, long start, int depth)
    {
        if (reader.TokenStartIndex == start)
        {
            SkipMessage(ref reader);
            return;
        }

        // Inside the message every token is deeper than its first; the only later token at that depth is its last.
        while (reader.CurrentDepth > depth)
        {
            reader.Read();
        }
    }
}
