namespace Halfhour.Market.Rules;

/// <summary>
/// The DIP's date-time: exactly 25 characters, <c>yyyy-MM-ddTHH:mm:ss±hh:mm</c>, naming a real instant
/// (a real calendar date, hours 00–23, minutes and seconds 00–59, an offset within ±14:00).
/// </summary>
public static class MarketDateTime
{
    /// <summary>The exact length of a date-time.</summary>
    public const int Length = 25;

    /// <summary>Parses a UTF-8 date-time; false when it is not exactly the format or not a real instant.</summary>
    public static bool TryParse(ReadOnlySpan<byte> s, out DateTimeOffset value)
    {
        value = default;
        if (s.Length != Length || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[22] != ':')
        {
            return false;
        }

        var sign = s[19];
        if (sign != '+' && sign != '-')
        {
            return false;
        }

        if (!Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day) ||
            !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second) ||
            !Digits(s, 20, 2, out var offHours) || !Digits(s, 23, 2, out var offMinutes))
        {
            return false;
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) ||
            hour > 23 || minute > 59 || second > 59 || offMinutes > 59 || offHours * 60 + offMinutes > 14 * 60)
        {
            return false;
        }

        var offset = new TimeSpan(offHours, offMinutes, 0);
        if (sign == '-')
        {
            offset = -offset;
        }

        var local = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Unspecified);
        var utcTicks = local.Ticks - offset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        value = new DateTimeOffset(local, offset);
        return true;
    }

    /// <summary>Parses a date-time given as text; false when it is not exactly the format or not a real instant.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out DateTimeOffset value)
    {
        value = default;
        if (text.Length != Length)
        {
            return false;
        }

        Span<byte> utf8 = stackalloc byte[Length];
        for (var i = 0; i < Length; i++)
        {
            if (text[i] > 127)
            {
                return false;
            }

            utf8[i] = (byte)text[i];
        }

        return TryParse(utf8, out value);
    }

    /// <summary>Formats an instant in the DIP's form, in UTC (<c>+00:00</c>).</summary>
    public static string Format(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", System.Globalization.CultureInfo.InvariantCulture);

    private static bool Digits(ReadOnlySpan<byte> s, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var d = s[i] - (byte)'0';
            if ((uint)d > 9)
            {
                return false;
            }

            value = value * 10 + d;
        }

        return true;
    }
}
