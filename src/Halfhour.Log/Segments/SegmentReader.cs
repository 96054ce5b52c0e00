using Halfhour.Log.Batches;
using Halfhour.Log.Encryption;
using Halfhour.Log.Records;
using Halfhour.Log.Recovery;

namespace Halfhour.Log.Segments;

/// <summary>Reads committed batches of one segment into a <see cref="LogReadResult"/>, checking each before it is served.</summary>
internal static class SegmentReader
{
    /// <summary>Reads whole batches holding <paramref name="fromOffset"/> and after, about <paramref name="maxBytes"/> of them.</summary>
    public static void Read(Segment segment, long fromOffset, int maxBytes, EncryptionKeyring? keyring, LogReadResult result)
    {
        var end = segment.CommittedLength;
        var position = segment.Offsets.FindPosition(fromOffset);
        var want = Math.Max(maxBytes, BatchHeader.Size);
        while (position < end)
        {
            var length = (int)Math.Min(want, end - position);
            var buffer = result.Rent(length);
            var read = RandomAccess.Read(segment.Handle, buffer.AsSpan(0, length), position);
            var at = 0;
            var added = false;
            while (at + BatchHeader.Size <= read)
            {
                if (!BatchHeader.TryRead(buffer.AsSpan(at), out var header) || position + at + header.Length > end)
                {
                    throw new LogCorruptionException(segment.LogPath, position + at, "no valid batch header where one must start");
                }

                if (at + header.Length > read)
                {
                    if (at == 0)
                    {
                        want = header.Length; // one batch larger than the buffer: read it whole next time
                    }

                    break;
                }

                if (header.LastOffset >= fromOffset)
                {
                    BatchDecoder.Decode(buffer, at, header, keyring, result, segment.LogPath, position + at);
                    added = true;
                }

                at += header.Length;
            }

            if (added)
            {
                return;
            }

            if (read < length)
            {
                throw new IOException($"{segment.LogPath} is shorter than its committed length {end}.");
            }

            position += at;
        }
    }

    /// <summary>The first offset of the first batch stamped at or after <paramref name="timestampMs"/>, or -1 when none in this segment is.</summary>
    public static long FindOffset(Segment segment, long timestampMs)
    {
        var end = segment.CommittedLength;
        var position = segment.Times.FindPositionBefore(timestampMs);
        Span<byte> head = stackalloc byte[BatchHeader.Size];
        while (position + BatchHeader.Size <= end)
        {
            if (RandomAccess.Read(segment.Handle, head, position) != BatchHeader.Size || !BatchHeader.TryRead(head, out var header))
            {
                throw new LogCorruptionException(segment.LogPath, position, "no valid batch header where one must start");
            }

            if (header.LastTimestamp >= timestampMs)
            {
                return header.FirstOffset;
            }

            position += header.Length;
        }

        return -1;
    }
}
