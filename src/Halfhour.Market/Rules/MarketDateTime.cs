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
        if (!TryReadFields(s, out var local, out var offsetMinutes))
        {
            return false;
        }

        var offset = TimeSpan.FromMinutes(offsetMinutes);
        var utcTicks = local.Ticks - offset.Ticks;
        if (utcTicks < DateTime.MinValue.Ticks || utcTicks > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        value = new DateTimeOffset(local, offset);
        return true;
    }

    /// <summary>
    /// Parses a UTF-8 date-time to whole seconds since 1970-01-01T00:00:00Z without allocating; accepts exactly
    /// what <see cref="TryParse(ReadOnlySpan{byte}, out DateTimeOffset)"/> accepts (the path every settlement period takes).
    /// </summary>
    public static bool TryParseUnixSeconds(ReadOnlySpan<byte> s, out long unixSeconds)
    {
        unixSeconds = 0;
        if (!TryReadFields(s, out var year, out var month, out var day, out var secondOfDay, out var offsetMinutes))
        {
            return false;
        }

        unixSeconds = DaysFromCivil(year, month, day) * 86_400L + secondOfDay - offsetMinutes * 60L;
        return unixSeconds is >= MinUnixSeconds and <= MaxUnixSeconds;
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
        return System.Text.Ascii.FromUtf16(text, utf8, out _) == System.Buffers.OperationStatus.Done && TryParse(utf8, out value);
    }

    /// <summary>Formats an instant in the DIP's form, in UTC (<c>+00:00</c>).</summary>
    public static string Format(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'+00:00'", System.Globalization.CultureInfo.InvariantCulture);

    // The instants DateTimeOffset can hold, so both parsers agree at the edges of the calendar.
    private const long MinUnixSeconds = -62_135_596_800;
    private const long MaxUnixSeconds = 253_402_300_799;

    // Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil): integer arithmetic only.
    private static long DaysFromCivil(int year, int month, int day)
    {
        var y = month <= 2 ? year - 1 : year;
        var era = (y >= 0 ? y : y - 399) / 400;
        var yearOfEra = y - era * 400;
        var dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
        var dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
        return era * 146_097L + dayOfEra - 719_468;
    }

    private static bool TryReadFields(ReadOnlySpan<byte> s, out DateTime local, out int offsetMinutes)
    {
        local = default;
        if (!TryReadFields(s, out var year, out var month, out var day, out var secondOfDay, out offsetMinutes))
        {
            return false;
        }

        local = new DateTime(year, month, day, 0, 0, 0, DateTimeKind.Unspecified).AddSeconds(secondOfDay);
        return true;
    }

    // The fields of the exact format, range-checked: a real calendar date, a real time of day, an offset within ±14:00.
    private static bool TryReadFields(ReadOnlySpan<byte> s, out int year, out int month, out int day, out int secondOfDay, out int offsetMinutes)
    {
        year = month = day = secondOfDay = offsetMinutes = 0;
        if (s.Length != Length || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[22] != ':' ||
            (s[19] != '+' && s[19] != '-'))
        {
            return false;
        }

        if (!Digits(s, 0, 4, out year) || !Digits(s, 5, 2, out month) || !Digits(s, 8, 2, out day) ||
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

        secondOfDay = hour * 3600 + minute * 60 + second;
        offsetMinutes = (offHours * 60 + offMinutes) * (s[19] == '-' ? -1 : 1);
        return true;
    }

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
