using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Halfhour.Broker.Messages;

/// <summary>
/// An accepted message as the broker stores it: the bytes the sender sent, unchanged, behind what the
/// backbone decided when it accepted them (when, from whom, to whom). Recipients are decided once, at
/// acceptance, so a later change of appointment never re-routes what was already sent.
/// </summary>
public sealed class StoredMessage
{
    /// <summary>Layout version 1; a reader refuses a layout it does not know rather than guess.</summary>
    private const byte LayoutVersion = 1;

    /// <summary>The texts before the recipients: interface, event, sender, role, reference, correlation, MPAN.</summary>
    private const int TextFields = 7;

    /// <summary>A DIP ID is always 10 characters, so recipients are stored without lengths.</summary>
    private const int DipIdLength = 10;

    /// <summary>The interface ID, e.g. IF-021.</summary>
    public required string InterfaceId { get; init; }

    /// <summary>The event code, e.g. ActivePower.</summary>
    public required string EventCode { get; init; }

    /// <summary>When the backbone accepted the message (D0.transactionTimestamp).</summary>
    public required DateTimeOffset AcceptedAt { get; init; }

    /// <summary>The sender's DIP ID.</summary>
    public required string SenderDipId { get; init; }

    /// <summary>The sender's role code.</summary>
    public required string SenderRole { get; init; }

    /// <summary>The sender's unique reference (S1.senderUniqueReference).</summary>
    public required string SenderUniqueReference { get; init; }

    /// <summary>The correlation ID the conversation started with (D0.initialCorrelationID), or empty.</summary>
    public string CorrelationId { get; init; } = "";

    /// <summary>The MPAN core the message is about, or empty.</summary>
    public string Mpan { get; init; } = "";

    /// <summary>The recipients the sender named.</summary>
    public IReadOnlyList<string> Primary { get; init; } = [];

    /// <summary>The recipients the backbone added by role or metering point (A0.secondaryRecipients).</summary>
    public IReadOnlyList<string> Secondary { get; init; } = [];

    /// <summary>The recipients that always receive the interface (A0.always).</summary>
    public IReadOnlyList<string> Always { get; init; } = [];

    /// <summary>The message exactly as the sender sent it.</summary>
    public required ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>True when <paramref name="dipId"/> is among any of the recipients.</summary>
    public bool IsRoutedTo(string dipId) => Contains(Primary, dipId) || Contains(Secondary, dipId) || Contains(Always, dipId);

    /// <summary>Writes the stored form.</summary>
    public void WriteTo(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var size = StoredSize;
        Write(output.GetSpan(size));
        output.Advance(size);
    }

    /// <summary>The stored form as a new array.</summary>
    public byte[] ToArray()
    {
        var stored = GC.AllocateUninitializedArray<byte>(StoredSize);
        Write(stored);
        return stored;
    }

    /// <summary>Writes the stored form at the start of <paramref name="destination"/>; returns its length, <see cref="StoredSize"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="StoredSize"/>.</exception>
    public int WriteTo(Span<byte> destination)
    {
        var size = StoredSize;
        if (destination.Length < size)
        {
            throw new ArgumentException($"The stored form takes {size} bytes; the destination holds {destination.Length}.", nameof(destination));
        }

        Write(destination);
        return size;
    }

    /// <summary>The length of the stored form in bytes.</summary>
    public int StoredSize =>
        1 + 8 + Text(InterfaceId) + Text(EventCode) + Text(SenderDipId) + Text(SenderRole) + Text(SenderUniqueReference) +
        Text(CorrelationId) + Text(Mpan) + 3 * 2 + (Primary.Count + Secondary.Count + Always.Count) * DipIdLength + 4 + Body.Length;

    /// <summary>Writes the stored form at the start of <paramref name="span"/>, which holds at least <see cref="StoredSize"/> bytes.</summary>
    private void Write(Span<byte> span)
    {
        var at = 0;
        span[at++] = LayoutVersion;
        BinaryPrimitives.WriteInt64LittleEndian(span[at..], AcceptedAt.ToUnixTimeMilliseconds());
        at += 8;
        at += WriteText(span[at..], InterfaceId);
        at += WriteText(span[at..], EventCode);
        at += WriteText(span[at..], SenderDipId);
        at += WriteText(span[at..], SenderRole);
        at += WriteText(span[at..], SenderUniqueReference);
        at += WriteText(span[at..], CorrelationId);
        at += WriteText(span[at..], Mpan);
        at += WriteIds(span[at..], Primary);
        at += WriteIds(span[at..], Secondary);
        at += WriteIds(span[at..], Always);
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], Body.Length);
        at += 4;
        Body.Span.CopyTo(span[at..]);
    }

    /// <summary>Reads a stored form; <see cref="InvalidDataException"/> when it is not one this version wrote.</summary>
    /// <param name="stored">The stored bytes; <see cref="Body"/> points into them, so copy them first if they are pooled and must outlive the call.</param>
    public static StoredMessage Read(ReadOnlyMemory<byte> stored)
    {
        var span = stored.Span;
        CheckLayout(span);

        var at = 1;
        var acceptedAt = DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(span[at..]));
        at += 8;
        var interfaceId = ReadText(span, ref at);
        var eventCode = ReadText(span, ref at);
        var sender = ReadText(span, ref at);
        var role = ReadText(span, ref at);
        var reference = ReadText(span, ref at);
        var correlation = ReadText(span, ref at);
        var mpan = ReadText(span, ref at);
        var primary = ReadIds(span, ref at);
        var secondary = ReadIds(span, ref at);
        var always = ReadIds(span, ref at);
        var length = BinaryPrimitives.ReadInt32LittleEndian(span[at..]);
        at += 4;
        if (length < 0 || at + length > span.Length)
        {
            throw new InvalidDataException("A stored message's body runs past its end.");
        }

        return new StoredMessage
        {
            InterfaceId = interfaceId,
            EventCode = eventCode,
            AcceptedAt = acceptedAt,
            SenderDipId = sender,
            SenderRole = role,
            SenderUniqueReference = reference,
            CorrelationId = correlation,
            Mpan = mpan,
            Primary = primary,
            Secondary = secondary,
            Always = always,
            Body = stored.Slice(at, length),
        };
    }

    /// <summary>
    /// The fields that name a message for de-duplication, read from a stored form without decoding anything else (the
    /// index of sender references is rebuilt from every stored message of its window at start-up).
    /// </summary>
    public static StoredReference ReadReference(ReadOnlySpan<byte> stored)
    {
        CheckLayout(stored);

        var at = 1;
        var acceptedAt = BinaryPrimitives.ReadInt64LittleEndian(stored[at..]);
        at += 8;
        var interfaceId = TextAt(stored, ref at);
        TextAt(stored, ref at); // the event code
        var sender = TextAt(stored, ref at);
        var role = TextAt(stored, ref at);
        var reference = TextAt(stored, ref at);
        return new StoredReference(DateTimeOffset.FromUnixTimeMilliseconds(acceptedAt), interfaceId, sender, role, reference);
    }

    /// <summary>Refuses a stored form of a layout this version did not write rather than guess.</summary>
    private static void CheckLayout(ReadOnlySpan<byte> stored)
    {
        if (stored.Length < 9 || stored[0] != LayoutVersion)
        {
            throw new InvalidDataException($"A stored message starts with layout version {LayoutVersion}; this one starts with {(stored.Length > 0 ? stored[0] : -1)}.");
        }
    }

    private static ReadOnlySpan<byte> TextAt(ReadOnlySpan<byte> span, scoped ref int at)
    {
        var length = BinaryPrimitives.ReadUInt16LittleEndian(span[at..]);
        var text = span.Slice(at + 2, length);
        at += 2 + length;
        return text;
    }

    /// <summary>
    /// Where the recipients' DIP IDs stand in a stored form (every tier, in order), without decoding anything
    /// else: the fan-out reads only these, for every message.
    /// </summary>
    public static void FindRecipients(ReadOnlySpan<byte> stored, List<Range> recipients)
    {
        ArgumentNullException.ThrowIfNull(recipients);
        CheckLayout(stored);

        recipients.Clear();
        var at = 1 + 8;
        for (var text = 0; text < TextFields; text++)
        {
            at += 2 + BinaryPrimitives.ReadUInt16LittleEndian(stored[at..]);
        }

        for (var tier = 0; tier < 3; tier++)
        {
            var count = BinaryPrimitives.ReadUInt16LittleEndian(stored[at..]);
            at += 2;
            for (var i = 0; i < count; i++, at += DipIdLength)
            {
                recipients.Add(new Range(at, at + DipIdLength));
            }
        }
    }

    /// <summary>A copy whose body no longer points into the buffer it was read from.</summary>
    public StoredMessage Detach() => new()
    {
        InterfaceId = InterfaceId,
        EventCode = EventCode,
        AcceptedAt = AcceptedAt,
        SenderDipId = SenderDipId,
        SenderRole = SenderRole,
        SenderUniqueReference = SenderUniqueReference,
        CorrelationId = CorrelationId,
        Mpan = Mpan,
        Primary = Primary,
        Secondary = Secondary,
        Always = Always,
        Body = Body.ToArray(),
    };

    private static bool Contains(IReadOnlyList<string> ids, string dipId)
    {
        for (var i = 0; i < ids.Count; i++)
        {
            if (string.Equals(ids[i], dipId, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static int Text(string value) => 2 + Encoding.UTF8.GetByteCount(value);

    private static int WriteText(Span<byte> span, string value)
    {
        var length = Encoding.UTF8.GetBytes(value, span[2..]);
        BinaryPrimitives.WriteUInt16LittleEndian(span, checked((ushort)length));
        return 2 + length;
    }

    private static string ReadText(ReadOnlySpan<byte> span, ref int at)
    {
        var text = TextAt(span, ref at);
        return text.IsEmpty ? "" : Encoding.UTF8.GetString(text);
    }

    private static int WriteIds(Span<byte> span, IReadOnlyList<string> ids)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(span, checked((ushort)ids.Count));
        var at = 2;
        for (var i = 0; i < ids.Count; i++)
        {
            if (ids[i].Length != DipIdLength || Encoding.UTF8.GetBytes(ids[i], span[at..]) != DipIdLength)
            {
                throw new ArgumentException($"Recipient '{ids[i]}' is not a 10-character DIP ID.", nameof(ids));
            }

            at += DipIdLength;
        }

        return at;
    }

    private static string[] ReadIds(ReadOnlySpan<byte> span, ref int at)
    {
        var count = BinaryPrimitives.ReadUInt16LittleEndian(span[at..]);
        at += 2;
        if (count == 0)
        {
            return [];
        }

        var ids = new string[count];
        for (var i = 0; i < count; i++)
        {
            ids[i] = Encoding.UTF8.GetString(span.Slice(at, DipIdLength));
            at += DipIdLength;
        }

        return ids;
    }
}

/// <summary>The fields of a stored message that name it for de-duplication, as the UTF-8 bytes stored.</summary>
/// <param name="AcceptedAt">When the backbone accepted it.</param>
/// <param name="InterfaceId">Its interface ID.</param>
/// <param name="SenderDipId">Its sender's DIP ID.</param>
/// <param name="SenderRole">Its sender's role code.</param>
/// <param name="SenderUniqueReference">The sender's unique reference (empty for a status message sent without one).</param>
public readonly ref struct StoredReference(DateTimeOffset AcceptedAt, ReadOnlySpan<byte> InterfaceId, ReadOnlySpan<byte> SenderDipId,
    ReadOnlySpan<byte> SenderRole, ReadOnlySpan<byte> SenderUniqueReference)
{
    /// <summary>When the backbone accepted it.</summary>
    public DateTimeOffset AcceptedAt { get; } = AcceptedAt;

    /// <summary>Its interface ID.</summary>
    public ReadOnlySpan<byte> InterfaceId { get; } = InterfaceId;

    /// <summary>Its sender's DIP ID.</summary>
    public ReadOnlySpan<byte> SenderDipId { get; } = SenderDipId;

    /// <summary>Its sender's role code.</summary>
    public ReadOnlySpan<byte> SenderRole { get; } = SenderRole;

    /// <summary>The sender's unique reference.</summary>
    public ReadOnlySpan<byte> SenderUniqueReference { get; } = SenderUniqueReference;
}
