namespace Halfhour.Market.Rules;

/// <summary>
/// The MPAN core: 13 digits, the last a check digit. Digits d1..d12 are weighted
/// 3,5,7,13,17,19,23,29,31,37,41,43; the check digit is (sum mod 11) mod 10.
/// </summary>
public static class MpanCore
{
    /// <summary>The length of an MPAN core.</summary>
    public const int Length = 13;

    private static ReadOnlySpan<byte> Weights => [3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43];

    /// <summary>True when <paramref name="utf8"/> is 13 ASCII digits whose last is the right check digit.</summary>
    public static bool IsValid(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length != Length)
        {
            return false;
        }

        var sum = 0;
        for (var i = 0; i < Length - 1; i++)
        {
            var d = utf8[i] - (byte)'0';
            if ((uint)d > 9)
            {
                return false;
            }

            sum += d * Weights[i];
        }

        var check = utf8[Length - 1] - (byte)'0';
        return (uint)check <= 9 && check == sum % 11 % 10;
    }

    /// <summary>True when <paramref name="text"/> is 13 digits whose last is the right check digit.</summary>
    public static bool IsValid(ReadOnlySpan<char> text)
    {
        if (text.Length != Length)
        {
            return false;
        }

        Span<byte> utf8 = stackalloc byte[Length];
        return System.Text.Ascii.FromUtf16(text, utf8, out _) == System.Buffers.OperationStatus.Done && IsValid(utf8);
    }

    /// <summary>The check digit for the first twelve digits (ASCII digits only).</summary>
    public static int CheckDigit(ReadOnlySpan<char> firstTwelve)
    {
        if (firstTwelve.Length != Length - 1)
        {
            throw new ArgumentException("An MPAN core's check digit is computed from exactly 12 digits.", nameof(firstTwelve));
        }

        var sum = 0;
        for (var i = 0; i < Length - 1; i++)
        {
            var d = firstTwelve[i] - '0';
            if ((uint)d > 9)
            {
                throw new ArgumentException($"'{firstTwelve[i]}' at position {i + 1} is not a digit.", nameof(firstTwelve));
            }

            sum += d * Weights[i];
        }

        return sum % 11 % 10;
    }
}
