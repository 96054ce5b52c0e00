using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Halfhour.Market.Rules;

namespace Halfhour.Market.Envelope;

/// <summary>
/// Writes a message as it is delivered: the sender's bytes copied through unchanged except for
/// <c>A0</c> (the sender's primaryRecipients kept, secondaryRecipients and always set) and <c>D0</c>
/// (stamped; a D0 the sender wrote is replaced). Blocks are rewritten where they stand, or added at the
/// end of the CommonBlock when absent. Everything else is copied as raw bytes, not re-serialised, so the
/// cost is one read of the message and one write. The input must be a message the validator accepted.
/// </summary>
public static class EgressWriter
{
    // The largest scratch buffer a thread keeps: a consumption message of a few settlement days.
    private const int MaxScratchBytes = 1 << 20;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_scratch;

    private static readonly JsonWriterOptions s_options = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// <summary>The stamped message as a new array.</summary>
    public static byte[] Stamp(ReadOnlySpan<byte> message, EgressStamp stamp)
    {
        // One scratch buffer per thread, so the only allocation per message is the array returned. It is copied over
        // whole, so the runtime need not clear it first: clearing the stamped copies was most of the server's memset.
        var output = t_scratch ??= new ArrayBufferWriter<byte>(16 << 10);
        output.ResetWrittenCount();
        Write(message, stamp, output);
        var stamped = GC.AllocateUninitializedArray<byte>(output.WrittenCount);
        output.WrittenSpan.CopyTo(stamped);
        if (output.Capacity > MaxScratchBytes)
        {
            t_scratch = null; // an unusually large message: do not keep its buffer for ever
        }

        return stamped;
    }

    /// <summary>Writes the stamped message to <paramref name="output"/>.</summary>
    public static void Write(ReadOnlySpan<byte> message, EgressStamp stamp, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(stamp);
        ArgumentNullException.ThrowIfNull(output);
        var writer = t_writer ??= new Utf8JsonWriter(output, s_options);
        writer.Reset(output);
        var reader = new Utf8JsonReader(message);
        reader.Read();
        writer.WriteStartObject();
        if (reader.Read() && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("payload"u8))
        {
            // The usual shape: the payload first, its CommonBlock first. Everything after the CommonBlock is copied raw.
            writer.WritePropertyName("payload"u8);
            reader.Read();
            writer.WriteStartObject();
            if (reader.Read() && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("CommonBlock"u8))
            {
                writer.WritePropertyName("CommonBlock"u8);
                reader.Read();
                CommonBlock(ref reader, message, stamp, writer);
                if (CopyPayloadTail(ref reader, message, writer, output))
                {
                    return;
                }

                RestOf(ref reader, message, stamp, writer, "CommonBlock"u8, CommonBlock);
            }
            else
            {
                Continue(ref reader, message, stamp, writer, "CommonBlock"u8, CommonBlock);
            }

            RestOf(ref reader, message, stamp, writer, "payload"u8, Payload);
        }
        else
        {
            Continue(ref reader, message, stamp, writer, "payload"u8, Payload);
        }

        writer.Flush();
    }

    private delegate void Inner(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, EgressStamp stamp, Utf8JsonWriter writer);

    private static void Payload(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, EgressStamp stamp, Utf8JsonWriter writer) =>
        ObjectWith(ref reader, message, stamp, writer, "CommonBlock"u8, CommonBlock);

    /// <summary>
    /// Once the CommonBlock is stamped, what follows it in the payload (the CustomBlock: nearly all the bytes) is copied
    /// as it stands without being read token by token. A validated message is <c>{"payload":{…}}</c> and nothing else,
    /// so the payload closes at the last brace but one; false (the caller copies property by property) when the
    /// message does not end that way.
    /// </summary>
    private static bool CopyPayloadTail(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, Utf8JsonWriter writer, IBufferWriter<byte> output)
    {
        if (reader.CurrentDepth != 2)
        {
            return false;
        }

        var last = message.TrimEnd(" \t\r\n"u8);
        var payloadEnd = last.Length > 0 && last[^1] == (byte)'}' ? last[..^1].TrimEnd(" \t\r\n"u8).Length - 1 : -1;
        var from = (int)reader.BytesConsumed;
        if (payloadEnd < from || message[payloadEnd] != (byte)'}')
        {
            return false;
        }

        writer.Flush();
        output.Write(message[from..payloadEnd]);
        output.Write("}}"u8);
        return true;
    }

    /// <summary>Copies the object at the reader, handing the value of the property <paramref name="name"/> to <paramref name="inner"/>.</summary>
    private static void ObjectWith(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, EgressStamp stamp, Utf8JsonWriter writer, ReadOnlySpan<byte> name, Inner inner)
    {
        writer.WriteStartObject();
        RestOf(ref reader, message, stamp, writer, name, inner);
    }

    /// <summary>Copies the rest of an object whose start is written, from the property after the one at the reader.</summary>
    private static void RestOf(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, EgressStamp stamp, Utf8JsonWriter writer, ReadOnlySpan<byte> name, Inner inner)
    {
        if (reader.Read())
        {
            Continue(ref reader, message, stamp, writer, name, inner);
        }
    }

    /// <summary>Copies the rest of an object whose start is written, from the token at the reader (a property name or the end).</summary>
    private static void Continue(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, EgressStamp stamp, Utf8JsonWriter writer, ReadOnlySpan<byte> name, Inner inner)
    {
        for (var more = true; more && reader.TokenType == JsonTokenType.PropertyName; more = reader.Read())
        {
            if (reader.ValueTextEquals(name))
            {
                writer.WritePropertyName(name);
                reader.Read();
                inner(ref reader, message, stamp, writer);
            }
            else
            {
                CopyProperty(ref reader, message, writer);
            }
        }

        writer.WriteEndObject();
    }

    private static void CommonBlock(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, EgressStamp stamp, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        var wroteA0 = false;
        var wroteD0 = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("A0"u8))
            {
                reader.Read();
                A0(ref reader, message, stamp, writer);
                wroteA0 = true;
            }
            else if (reader.ValueTextEquals("D0"u8))
            {
                reader.Read();
                reader.Skip();
                D0(stamp, writer);
                wroteD0 = true;
            }
            else
            {
                CopyProperty(ref reader, message, writer);
            }
        }

        if (!wroteA0)
        {
            writer.WritePropertyName("A0"u8);
            writer.WriteStartObject();
            writer.WritePropertyName("primaryRecipients"u8);
            writer.WriteStartArray();
            writer.WriteEndArray();
            Recipients(stamp, writer);
            writer.WriteEndObject();
        }

        if (!wroteD0)
        {
            D0(stamp, writer);
        }

        writer.WriteEndObject();
    }

    private static void A0(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, EgressStamp stamp, Utf8JsonWriter writer)
    {
        writer.WritePropertyName("A0"u8);
        writer.WriteStartObject();
        var wrotePrimary = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("primaryRecipients"u8))
            {
                CopyProperty(ref reader, message, writer);
                wrotePrimary = true;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (!wrotePrimary)
        {
            writer.WritePropertyName("primaryRecipients"u8);
            writer.WriteStartArray();
            writer.WriteEndArray();
        }

        Recipients(stamp, writer);
        writer.WriteEndObject();
    }

    private static void Recipients(EgressStamp stamp, Utf8JsonWriter writer)
    {
        writer.WritePropertyName("secondaryRecipients"u8);
        writer.WriteStartArray();
        foreach (var id in stamp.SecondaryRecipients)
        {
            writer.WriteStringValue(id);
        }

        writer.WriteEndArray();
        writer.WritePropertyName("always"u8);
        writer.WriteStartArray();
        foreach (var id in stamp.Always)
        {
            writer.WriteStringValue(id);
        }

        writer.WriteEndArray();
    }

    private static void D0(EgressStamp stamp, Utf8JsonWriter writer)
    {
        writer.WritePropertyName("D0"u8);
        writer.WriteStartObject();
        writer.WriteString("transactionID"u8, stamp.TransactionId);
        Span<char> timestamp = stackalloc char[MarketDateTime.Length];
        stamp.TransactionTimestamp.ToUniversalTime().TryFormat(timestamp, out _, "yyyy-MM-dd'T'HH:mm:ss'+00:00'", System.Globalization.CultureInfo.InvariantCulture);
        writer.WriteString("transactionTimestamp"u8, timestamp);
        writer.WriteString("publicationID"u8, stamp.PublicationId);
        if (stamp.InitialCorrelationId is null)
        {
            writer.WriteNull("initialCorrelationID"u8);
        }
        else
        {
            writer.WriteString("initialCorrelationID"u8, stamp.InitialCorrelationId);
        }

        writer.WriteBoolean("replayIndicator"u8, stamp.ReplayIndicator);
        writer.WriteNull("serviceTicketURL"u8);
        writer.WriteEndObject();
    }

    /// <summary>Copies the property at the reader (name, then value as raw bytes).</summary>
    private static void CopyProperty(ref Utf8JsonReader reader, ReadOnlySpan<byte> message, Utf8JsonWriter writer)
    {
        if (reader.ValueIsEscaped)
        {
            writer.WritePropertyName(reader.GetString()!);
        }
        else
        {
            writer.WritePropertyName(reader.ValueSpan);
        }

        reader.Read();
        var start = (int)reader.TokenStartIndex;
        if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
        {
            reader.Skip();
        }

        writer.WriteRawValue(message[start..(int)reader.BytesConsumed], skipInputValidation: true);
    }
}
