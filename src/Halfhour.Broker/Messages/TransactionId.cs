using System.Globalization;

namespace Halfhour.Broker.Messages;

/// <summary>
/// The backbone's transaction ID: <c>T-{interface}-{sender DIP ID}-{sender role}-{yyyyMMdd}-{partition:D3}{offset:D13}</c>,
/// e.g. <c>T-IF-021-1000000001-SDS-20261127-0030000000012345</c> (at most 52 of the DIP's 65 characters).
/// It reads like the DIP's own and names where the message is stored, so a message is found from its
/// transaction ID without any index: the partition and offset are its last 16 digits.
/// </summary>
public static class TransactionId
{
    /// <summary>Partitions fit in 3 digits; <see cref="Topics.TopicLayout"/> keeps partition counts below 1000.</summary>
    private const int PartitionDigits = 3;

    /// <summary>13 digits of offset: ten trillion records in one partition, far beyond the retention of any deployment.</summary>
    private const int OffsetDigits = 13;

    /// <summary>Makes the transaction ID of a message stored at <paramref name="partition"/>/<paramref name="offset"/>.</summary>
    public static string Create(string interfaceId, string senderDipId, string senderRole, DateTimeOffset acceptedAt, int partition, long offset)
        => string.Create(CultureInfo.InvariantCulture,
            $"T-{interfaceId}-{senderDipId}-{senderRole}-{acceptedAt.UtcDateTime:yyyyMMdd}-{partition:D3}{offset:D13}");

    /// <summary>Reads the interface, partition and offset from a transaction ID; false when it is not one of ours.</summary>
    public static bool TryParse(ReadOnlySpan<char> id, out string interfaceId, out int partition, out long offset)
    {
        interfaceId = "";
        partition = 0;
        offset = 0;
        const int Tail = PartitionDigits + OffsetDigits;
        if (id.Length < 2 + Tail + 1 || !id.StartsWith("T-") || id[^(Tail + 1)] != '-')
        {
            return false;
        }

        var body = id[2..];
        var prefixEnd = body.IndexOf('-');
        if (prefixEnd < 0)
        {
            return false;
        }

        var numberEnd = body[(prefixEnd + 1)..].IndexOf('-');
        if (numberEnd < 0)
        {
            return false;
        }

        interfaceId = body[..(prefixEnd + 1 + numberEnd)].ToString();
        var tail = id[^Tail..];
        return int.TryParse(tail[..PartitionDigits], NumberStyles.None, CultureInfo.InvariantCulture, out partition) &&
               long.TryParse(tail[PartitionDigits..], NumberStyles.None, CultureInfo.InvariantCulture, out offset);
    }
}
