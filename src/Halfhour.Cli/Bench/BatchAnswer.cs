using System.Text.Json;

namespace Halfhour.Cli.Bench;

/// <summary>
/// What the backbone's answer to one batch (a DIP <c>StandardResponse</c>) said, tallied by reading its JSON once with no
/// object or string made per message: how many results it held, how many messages the backbone now holds, how many may be
/// sent again, and the first refusal in words. The load generator's CPU is part of what the benchmark measures, and a
/// result object of half a dozen strings per message published was 3% of it.
/// </summary>
/// <param name="Results">Results in the answer, one per message sent.</param>
/// <param name="Accepted">Messages answered MSG0000, or MSG0001 (stored by an earlier attempt) on a retry.</param>
/// <param name="Retryable">Messages answered MSG1500 (not stored; retry) while another attempt is allowed.</param>
/// <param name="Refusal">The first result that is neither, as <c>message help</c>; null when there is none.</param>
internal readonly record struct BatchAnswer(int Results, int Accepted, int Retryable, string? Refusal)
{
    private static ReadOnlySpan<byte> Success => "MSG0000"u8;
    private static ReadOnlySpan<byte> Duplicate => "MSG0001"u8;
    private static ReadOnlySpan<byte> StorageUnavailable => "MSG1500"u8;

    /// <summary>
    /// Tallies an answer; null when it is not a <c>StandardResponse</c> with a <c>messageArray</c>. A duplicate counts as
    /// accepted only on a retry (<paramref name="isRetry"/>): on a first attempt the reference was used before.
    /// </summary>
    public static BatchAnswer? Of(ReadOnlySpan<byte> answer, bool isRetry, bool mayRetry)
    {
        var reader = new Utf8JsonReader(answer);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isArray = reader.ValueTextEquals("messageArray"u8);
                reader.Read();
                if (isArray && reader.TokenType == JsonTokenType.StartArray)
                {
                    return Tally(ref reader, isRetry, mayRetry);
                }

                reader.Skip();
            }

            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static BatchAnswer? Tally(ref Utf8JsonReader reader, bool isRetry, bool mayRetry)
    {
        int results = 0, accepted = 0, retryable = 0;
        string? refusal = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            results++;
            var refused = true;
            string? message = null, help = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("message"u8))
                {
                    reader.Read();
                    if (StartsWith(ref reader, Success) || (isRetry && StartsWith(ref reader, Duplicate)))
                    {
                        accepted++;
                        refused = false;
                    }
                    else if (mayRetry && StartsWith(ref reader, StorageUnavailable))
                    {
                        retryable++;
                        refused = false;
                    }
                    else if (refusal is null)
                    {
                        message = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    }
                }
                else if (reader.ValueTextEquals("help"u8))
                {
                    reader.Read();
                    help = refusal is null && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }

            if (refused && refusal is null)
            {
                refusal = $"{message ?? "(no message)"} {help}".TrimEnd();
            }
        }

        return reader.TokenType == JsonTokenType.EndArray ? new BatchAnswer(results, accepted, retryable, refusal) : null;
    }

    private static bool StartsWith(ref Utf8JsonReader reader, ReadOnlySpan<byte> code) =>
        reader.TokenType == JsonTokenType.String
        && (reader.ValueIsEscaped ? System.Text.Encoding.UTF8.GetBytes(reader.GetString()!).AsSpan() : reader.ValueSpan).StartsWith(code);
}
