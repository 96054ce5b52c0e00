using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Halfhour.Client.Signing;

/// <summary>
/// The pieces of the DIP signing scheme both sides must compute identically: the content hash, the date form
/// and the string to sign, <c>METHOD;lowercase(full URL);X-DIP-Signature-Date;X-DIP-Content-Hash</c>.
/// </summary>
public static class StringToSign
{
    /// <summary>
    /// The date form this SDK writes: ISO 8601 in UTC with milliseconds. Milliseconds, not seconds, so that
    /// two identical requests sent within one second carry different signatures and are not taken for replays.
    /// </summary>
    public const string DateFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    // What a verifier accepts: ISO 8601 with an explicit offset or Z, with or without fractions. A date
    // without an offset is refused because its instant is ambiguous.
    private static readonly string[] s_acceptedDateFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ssK",
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK",
    ];

    /// <summary>base64(SHA-256(body)), the value of <c>X-DIP-Content-Hash</c>.</summary>
    public static string ContentHash(ReadOnlySpan<byte> body)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(body, hash);
        return Convert.ToBase64String(hash);
    }

    /// <summary>The text of <c>X-DIP-Signature-Date</c> for an instant.</summary>
    public static string FormatDate(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString(DateFormat, CultureInfo.InvariantCulture);

    /// <summary>Parses a <c>X-DIP-Signature-Date</c> value; false when it is not ISO 8601 with an offset.</summary>
    public static bool TryParseDate(string text, out DateTimeOffset instant)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (DateTimeOffset.TryParseExact(text.Trim(), s_acceptedDateFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.None, out instant)
            && HasExplicitOffset(text))
        {
            return true;
        }

        instant = default;
        return false;
    }

    /// <summary>The string to sign, exactly as the DIP defines it; the URL is lower-cased, nothing else is.</summary>
    public static string Build(string method, string fullUrl, string signatureDate, string contentHash)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(fullUrl);
        return string.Concat(method.ToUpperInvariant(), ";", fullUrl.ToLowerInvariant(), ";", signatureDate, ";", contentHash);
    }

    /// <summary>The UTF-8 bytes that are signed.</summary>
    public static byte[] Bytes(string method, string fullUrl, string signatureDate, string contentHash) =>
        Encoding.UTF8.GetBytes(Build(method, fullUrl, signatureDate, contentHash));

    private static bool HasExplicitOffset(string text)
    {
        var t = text.Trim();
        if (t.EndsWith('Z') || t.EndsWith('z')) return true;
        // An offset is "+hh:mm" or "-hh:mm" after the time, i.e. a sign within the last six characters.
        return t.Length > 6 && (t[^6] == '+' || t[^6] == '-');
    }
}
