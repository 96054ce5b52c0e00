using System.Text.Json;

namespace Halfhour.Market.Envelope;

/// <summary>
/// The messages of a DIP request body: a JSON array of <c>{"payload":…}</c> objects (what
/// <c>POST /dip-channel/{id}</c> takes), or a single message object. Finds each message's bytes without
/// parsing them, so each can be validated, and accepted or refused, on its own.
/// </summary>
public static class MessageBatch
{
    /// <summary>The deepest nesting a batch is read through; deeper elements make the whole body unreadable.</summary>
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
}
