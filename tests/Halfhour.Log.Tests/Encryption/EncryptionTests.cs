using System.Buffers.Binary;
using System.IO.Hashing;
using System.Security.Cryptography;
using System.Text;
using Halfhour.Log.Compression;
using Halfhour.Log.Encryption;
using Halfhour.Log.Recovery;
using Halfhour.Log.Tests.Support;
using Halfhour.Log.Topics;

namespace Halfhour.Log.Tests.Encryption;

public class EncryptionTests : InTempDirectory
{
    private static byte[] Key(byte fill) => Enumerable.Repeat(fill, 32).ToArray();

    private EventLog Open(EncryptionKeyring ring) => EventLog.Open(Dir.Path, new EventLogOptions { Keyring = ring, RetentionInterval = null });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task With_encryption_no_key_header_or_value_byte_appears_in_plain_text_in_any_file(bool compressed)
    {
        using (var log = Open(new EncryptionKeyring().Add(1, Key(1))))
        {
            log.CreateTopic("t", new TopicOptions { Encrypted = true, Compression = compressed ? CompressionOptions.Zstd : CompressionOptions.None });
            for (var i = 0; i < 50; i++)
            {
                await log.AppendAsync("t", 0, Rec.Text("SECRET-VALUE-1900012345678", "MPAN-KEY-1234567890123", ("SECRET-HEADER-NAME", "SECRET-HEADER-VALUE")));
            }
        }

        foreach (var file in Directory.GetFiles(Path.Combine(Dir.Path, "t"), "*", SearchOption.AllDirectories))
        {
            var bytes = await File.ReadAllBytesAsync(file);
            foreach (var secret in new[] { "SECRET", "MPAN-KEY", "1234567890123", "1900012345678" })
            {
                Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)) < 0, $"{secret} found in {file}");
            }
        }

        using var reopened = Open(new EncryptionKeyring().Add(1, Key(1)));
        Assert.Equal(50, Rec.ReadAll(reopened, "t", 0).Count);
    }

    [Fact]
    public async Task After_rotation_new_batches_use_the_newest_key_and_old_batches_stay_readable()
    {
        using (var log = Open(new EncryptionKeyring().Add(1, Key(1))))
        {
            log.CreateTopic("t", new TopicOptions { Encrypted = true });
            await log.AppendAsync("t", 0, Rec.Text("under key 1"));
        }

        using (var log = Open(new EncryptionKeyring().Add(1, Key(1)).Add(2, Key(2))))
        {
            await log.AppendAsync("t", 0, Rec.Text("under key 2"));
            Assert.Equal([(0L, "under key 1"), (1, "under key 2")], Rec.ReadAll(log, "t", 0));
        }

        var segment = await File.ReadAllBytesAsync(Directory.GetFiles(Path.Combine(Dir.Path, "t", "0"), "*.log").Single());
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(segment.AsSpan(56)));
        var second = BinaryPrimitives.ReadInt32LittleEndian(segment.AsSpan(4));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(segment.AsSpan(second + 56)));

        using var withoutOldKey = Open(new EncryptionKeyring().Add(2, Key(2)));
        var e = Assert.Throws<InvalidOperationException>(() => withoutOldKey.Read("t", 0, 0));
        Assert.Contains("key 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tampering_with_ciphertext_or_header_fails_authentication_even_with_a_recomputed_checksum()
    {
        using (var log = Open(new EncryptionKeyring().Add(1, Key(1))))
        {
            log.CreateTopic("t", new TopicOptions { Encrypted = true });
            await log.AppendAsync("t", 0, [Rec.Text("a"), Rec.Text("b")]);
            await log.AppendAsync("t", 0, Rec.Text("c"));
        }

        var path = Directory.GetFiles(Path.Combine(Dir.Path, "t", "0"), "*.log").Single();
        var pristine = await File.ReadAllBytesAsync(path);
        var length = BinaryPrimitives.ReadInt32LittleEndian(pristine.AsSpan(4));
        foreach (var at in new[] { 100, 40, 48 }) // a ciphertext byte, the first timestamp, the last timestamp
        {
            var damaged = (byte[])pristine.Clone();
            damaged[at] ^= 1;
            BinaryPrimitives.WriteUInt64LittleEndian(damaged.AsSpan(8), XxHash3.HashToUInt64(damaged.AsSpan(16, length - 16)));
            await File.WriteAllBytesAsync(path, damaged);
            using var log = Open(new EncryptionKeyring().Add(1, Key(1)));
            var e = Assert.Throws<LogCorruptionException>(() => log.Read("t", 0, 0));
            Assert.Contains("authentication", e.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Keys_come_from_an_environment_variable_or_a_key_file()
    {
        var k1 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var k2 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        Environment.SetEnvironmentVariable("HALFHOUR_TEST_KEYS", $"1:{k1};3:{k2}");
        var fromEnvironment = EncryptionKeyring.FromEnvironment("HALFHOUR_TEST_KEYS");
        Assert.Equal(3u, fromEnvironment.CurrentKeyId);
        Assert.Equal(2, fromEnvironment.Count);

        var file = Path.Combine(Dir.Path, "keys");
        File.WriteAllText(file, $"# rotated 2026-11\n1:{k1}\n2:{k2}\n");
        Assert.Equal(2u, EncryptionKeyring.FromFile(file).CurrentKeyId);

        Assert.Throws<ArgumentException>(() => EncryptionKeyring.Parse("1:" + Convert.ToBase64String(new byte[16])));
        Assert.Throws<FormatException>(() => EncryptionKeyring.Parse("one:" + k1));
        Assert.Throws<InvalidOperationException>(() => EncryptionKeyring.FromEnvironment("HALFHOUR_TEST_KEYS_UNSET"));
    }

    [Fact]
    public void An_encrypted_topic_needs_a_keyring()
    {
        using var log = EventLog.Open(Dir.Path, new EventLogOptions { RetentionInterval = null });
        Assert.Throws<ArgumentException>(() => log.CreateTopic("t", new TopicOptions { Encrypted = true }));
    }
}
