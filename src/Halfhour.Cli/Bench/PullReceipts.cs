using System.Buffers;

namespace Halfhour.Cli.Bench;

/// <summary>
/// The receipts of one pull answer, gathered while the answer streams in and written straight into the body of its
/// acknowledgement, <c>{"receipts":["…","…"]}</c>. The answer is read piece by piece into one small buffer and never held
/// whole (an answer of 1,000 messages is 3.5 MB); each receipt is found by searching for the property the backbone writes
/// first in each fetched message rather than by tokenising the (large) messages, and its JSON text is copied as it is,
/// with no string made of it. IF-021 messages have no property named <c>receipt</c>, and a string holding a quote is
/// escaped, so the pattern cannot occur inside one. One per puller; not thread-safe.
/// </summary>
internal sealed class PullReceipts
{
    // Large enough that the HTTP connection reads the decrypted answer straight into it (its own read buffer is smaller)
    // and a pull of a thousand messages is read in few calls; small enough to stay in the cache while it is searched.
    private const int ReadBufferBytes = 64 << 10;

    // Room for the receipts of the largest pull (1,000 receipts of ~40 bytes), so the body is not regrown.
    private const int InitialAcknowledgementBytes = 64 << 10;

    private static ReadOnlySpan<byte> Property => "{\"receipt\":\""u8;

    private readonly ArrayBufferWriter<byte> _acknowledgement = new(InitialAcknowledgementBytes);
    private byte[] _buffer = new byte[ReadBufferBytes];

    /// <summary>How many receipts the last answer held.</summary>
    public int Count { get; private set; }

    /// <summary>The acknowledgement of every receipt of the last answer read.</summary>
    public ReadOnlyMemory<byte> Acknowledgement => _acknowledgement.WrittenMemory;

    /// <summary>Reads an answer to its end, gathering its receipts into <see cref="Acknowledgement"/>.</summary>
    public async Task ReadAsync(Stream answer, CancellationToken cancellationToken)
    {
        Begin();
        var filled = 0;
        while (true)
        {
            if (filled == _buffer.Length)
            {
                // Only a receipt longer than the whole buffer gets here; grow rather than lose it.
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var read = await answer.ReadAsync(_buffer.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                break;
            }

            filled += read;
            var kept = Scan(_buffer.AsSpan(0, filled));
            _buffer.AsSpan(filled - kept, kept).CopyTo(_buffer);
            filled = kept;
        }

        End();
    }

    private void Begin()
    {
        _acknowledgement.ResetWrittenCount();
        _acknowledgement.Write("{\"receipts\":["u8);
        Count = 0;
    }

    private void End() => _acknowledgement.Write("]}"u8);

    /// <summary>
    /// Takes every complete receipt of <paramref name="data"/>; returns how many bytes at its end must be kept for the next
    /// piece: a receipt not yet closed, or a tail that may be the start of the property.
    /// </summary>
    private int Scan(ReadOnlySpan<byte> data)
    {
        var rest = data;
        while (rest.IndexOf(Property) is var at and >= 0)
        {
            var value = rest[(at + Property.Length)..];
            var end = value.IndexOf((byte)'"');
            if (end < 0)
            {
                return rest.Length - at;
            }

            Append(value[..end]);
            rest = value[(end + 1)..];
        }

        return Math.Min(rest.Length, Property.Length - 1);
    }

    private void Append(ReadOnlySpan<byte> receipt)
    {
        var destination = _acknowledgement.GetSpan(receipt.Length + 3);
        var at = 0;
        if (Count > 0)
        {
            destination[at++] = (byte)',';
        }

        destination[at++] = (byte)'"';
        receipt.CopyTo(destination[at..]);
        at += receipt.Length;
        destination[at++] = (byte)'"';
        _acknowledgement.Advance(at);
        Count++;
    }
}
