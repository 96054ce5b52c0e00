using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Halfhour.Server.Credentials;

/// <summary>
/// API keys: 32 random bytes in base64url, shown once to their owner; the backbone keeps only the SHA-256.
/// A plain hash (no salt, no stretching) is enough because the key has 256 bits of entropy: there is no
/// dictionary to attack, and the lookup on every request stays one hash and one dictionary probe.
/// </summary>
public static class ApiKeys
{
    /// <summary>256 bits, the strength of the SHA-256 that stores them.</summary>
    public const int KeyBytes = 32;

    /// <summary>A new random key.</summary>
    public static string Generate() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(KeyBytes));

    /// <summary>The stored form of a key: upper-case hex SHA-256 of its UTF-8 text.</summary>
    public static string Hash(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key.Trim())));
    }

    /// <summary>Compares a presented key with a stored hash in time that does not depend on where they differ.</summary>
    public static bool Matches(string presented, string storedHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Hash(presented)), Encoding.ASCII.GetBytes(storedHash.ToUpperInvariant()));
}
