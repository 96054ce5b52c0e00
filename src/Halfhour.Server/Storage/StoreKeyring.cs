using System.Security.Cryptography;
using Halfhour.Log.Encryption;

namespace Halfhour.Server.Storage;

/// <summary>
/// Where the event store's encryption keys come from. Encryption at rest is on by default: the keys are read from
/// <c>Halfhour:KeyFile</c>, else from <c>HALFHOUR_LOG_KEYS</c>, else from <c>DATA/keys/store.keys</c>, which the first
/// start creates (one random AES-256 key, mode 0600). A generated key file beside the data it protects keeps a copied
/// disk image from being read only as long as the file is not copied with it, hence the warning: production supplies
/// keys from its own secret store. Losing the key file loses the store.
/// </summary>
public static class StoreKeyring
{
    /// <summary>The generated key file, relative to the data directory.</summary>
    public static readonly string GeneratedKeyFile = Path.Combine("keys", "store.keys");

    /// <summary>Where the keys came from.</summary>
    public enum Source
    {
        /// <summary>The configured key file.</summary>
        ConfiguredFile,
        /// <summary>The environment variable.</summary>
        Environment,
        /// <summary>The key file in the data directory, already there.</summary>
        DataDirectory,
        /// <summary>The key file in the data directory, created by this start.</summary>
        Generated,
    }

    /// <summary>Loads (or on first start creates) the keyring.</summary>
    public static (EncryptionKeyring Keyring, Source Source, string? Path) Resolve(string dataDirectory, string? keyFile)
    {
        if (!string.IsNullOrWhiteSpace(keyFile))
        {
            return (EncryptionKeyring.FromFile(keyFile), Source.ConfiguredFile, keyFile);
        }

        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(EncryptionKeyring.DefaultVariable)))
        {
            return (EncryptionKeyring.FromEnvironment(), Source.Environment, null);
        }

        var path = System.IO.Path.GetFullPath(System.IO.Path.Combine(dataDirectory, GeneratedKeyFile));
        if (File.Exists(path))
        {
            return (EncryptionKeyring.FromFile(path), Source.DataDirectory, path);
        }

        AtomicFile.RemoveLeftovers(path);
        var key = RandomNumberGenerator.GetBytes(32);
        AtomicFile.WriteText(path,
            // The keyring format splits on commas and semicolons before it skips comments, so the comment has neither.
            "# Halfhour event-store keys as ID:BASE64 (AES-256) generated on first start. Back it up apart from the store.\n" +
            $"1:{Convert.ToBase64String(key)}\n", secret: true);
        return (EncryptionKeyring.FromFile(path), Source.Generated, path);
    }
}
