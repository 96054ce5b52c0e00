using System.Text.Json;
using Halfhour.Broker.Publishing;

namespace Halfhour.Server.Publishing;

/// <summary>
/// The request-level shape check of a batch, done in one forward pass without building a document: well-formed
/// JSON, within the depth limit, an array of at least one and at most the allowed number of elements. The same pass
/// can validate each element where it stands (<see cref="ValidatedBatch"/>), so a published message is read once.
/// </summary>
public static class MessageBatch
{
    /// <summary>The outcome of the shape check.</summary>
    /// <param name="Count">Elements counted (up to one past the limit).</param>
    /// <param name="Error">Why the body is not a usable batch, or null.</param>
    /// <param name="TooMany">True when the error is that the batch exceeds the message limit.</param>
    public readonly record struct Shape(int Count, string? Error, bool TooMany);

    /// <summary>
    /// Checks the body; when <paramref name="messages"/> is given, adds each element's byte range to it (the same pass finds
    /// them); when <paramref name="validated"/> is given, validates each element on the same reader as it is met, so each is
    /// tokenised once. The shape's verdict does not depend on the validation: a body that is not a well-formed array within
    /// the limits is refused as a whole, whatever its messages' verdicts.
    /// </summary>
    public static Shape Check(ReadOnlySpan<byte> body, int maxMessages, int maxDepth, List<Range>? messages = null, ValidatedBatch? validated = null)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = maxDepth, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            if (!reader.Read())
            {
                return new Shape(0, "The body is empty; send a JSON array of {\"payload\": …} messages.", false);
            }

            if (reader.TokenType != JsonTokenType.StartArray)
            {
                return new Shape(0, $"The body is a JSON {Describe(reader.TokenType)}, not an array; wrap the messages in [ … ] even when there is one.", false);
            }

            var count = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (++count > maxMessages)
                {
                    return new Shape(count, $"The batch has more than {maxMessages} messages; send at most {maxMessages} per request.", true);
                }

                var start = (int)reader.TokenStartIndex;
                if (validated is not null)
                {
                    validated.Read(ref reader, body);
                }
                else
                {
                    reader.Skip();
                }

                messages?.Add(new Range(start, (int)reader.BytesConsumed));
            }

            // Anything after the closing bracket makes Read throw; the check must cover the whole body.
            while (reader.Read()) { }

            return count == 0
                ? new Shape(0, "The array is empty; a batch holds at least one message.", false)
                : new Shape(count, null, false);
        }
        catch (JsonException e)
        {
            return new Shape(0, $"The body is not well-formed JSON: {e.Message}", false);
        }
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };
}
