using System.Globalization;

namespace Halfhour.Log.Encryption;

/// <summary>
/// The AES-256 keys of encryption at rest, each with a numeric id stored in the header of every batch
/// it encrypts. New batches use the newest key (highest id); every key stays readable, so rotating is
/// adding a key with a higher id and keeping the old ones.
/// </summary>
public sealed class EncryptionKeyring
{
    /// <summary>The environment variable <see cref="FromEnvironment"/> reads by default.</summary>
    public const string DefaultVariable = "HALFHOUR_LOG_KEYS";

    private const int KeyBytes = 32; // AES-256

    private readonly Dictionary<uint, byte[]> _keys = [];

    /// <summary>The id of the key new batches are encrypted with.</summary>
    public uint CurrentKeyId { get; private set; }

    /// <summary>How many keys the ring holds.</summary>
    public int Count => _keys.Count;

    /// <summary>Adds a 32-byte key under an id (ids start at 1); the highest id becomes the current key.</summary>
    public EncryptionKeyring Add(uint id, ReadOnlySpan<byte> key)
    {
        if (id == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(id), "Key ids start at 1; 0 marks an unencrypted batch.");
        }

        if (key.Length != KeyBytes)
        {
            throw new ArgumentException($"Key {id} has {key.Length} bytes; AES-256 needs {KeyBytes}.", nameof(key));
        }

        if (!_keys.TryAdd(id, key.ToArray()))
        {
            throw new ArgumentException($"Key id {id} is already in the keyring.", nameof(id));
        }

        CurrentKeyId = Math.Max(CurrentKeyId, id);
        return this;
    }

    /// <summary>The key with an id, if the ring holds it.</summary>
    internal bool TryGetKey(uint id, out byte[] key) => _keys.TryGetValue(id, out key!);

    /// <summary>
    /// Parses keys written as <c>ID:BASE64</c>, separated by new lines, commas or semicolons;
    /// lines starting with <c>#</c> are comments.
    /// </summary>
    public static EncryptionKeyring Parse(string text)
    {
        var ring = new EncryptionKeyring();
        foreach (var line in text.Split(['\n', '\r', ',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !uint.TryParse(line.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                throw new FormatException("A key entry must read ID:BASE64 with a positive numeric id.");
            }

            byte[] key;
            try
            {
                key = Convert.FromBase64String(line[(colon + 1)..]);
            }
            catch (FormatException e)
            {
                throw new FormatException($"Key {id} is not valid base64.", e);
            }

            ring.Add(id, key);
        }

        if (ring.Count == 0)
        {
            throw new FormatException("The keyring text holds no key.");
        }

        return ring;
    }

    /// <summary>Reads keys from a file (see <see cref="Parse"/> for the format).</summary>
    public static EncryptionKeyring FromFile(string path) => Parse(File.ReadAllText(path));

    /// <summary>Reads keys from an environment variable (see <see cref="Parse"/> for the format).</summary>
    public static EncryptionKeyring FromEnvironment(string variable = DefaultVariable)
        => Parse(Environment.GetEnvironmentVariable(variable)
            ?? throw new InvalidOperationException($"The environment variable {variable} that should hold the log's keys is not set."));
}
