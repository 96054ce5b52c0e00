using System.Security.Cryptography.X509Certificates;
using Halfhour.Client.Signing;
using Halfhour.Market.Participants;
using Halfhour.Server.Credentials;
using Halfhour.Server.Participants;

namespace Halfhour.Server.Tests.Participants;

public sealed class RegistryCertificates : IDisposable
{
    public X509Certificate2 First { get; } = TestAuthority.SelfSigned("1000000001");
    public X509Certificate2 Second { get; } = TestAuthority.SelfSigned("1000000001");
    public X509Certificate2 Other { get; } = TestAuthority.SelfSigned("1000000002");

    public void Dispose()
    {
        First.Dispose();
        Second.Dispose();
        Other.Dispose();
    }
}

public sealed class ParticipantRegistryTests(RegistryCertificates certificates) : IClassFixture<RegistryCertificates>, IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "halfhour-registry-" + Guid.NewGuid().ToString("N"), "participants.json");

    private static Participant Supplier(MarketEnvironment environment = MarketEnvironment.DEV) =>
        new() { DipId = "1000000001", Role = Role.SUP, Mpid = "SUPA", Name = "Supplier A", Environment = environment };

    private static ParticipantKey Key(MarketEnvironment environment = MarketEnvironment.DEV) => new(environment, "1000000001");

    public void Dispose()
    {
        if (Directory.Exists(Path.GetDirectoryName(_path))) Directory.Delete(Path.GetDirectoryName(_path)!, recursive: true);
    }

    [Fact]
    public void A_registered_participant_is_found_by_its_certificate_and_api_key_after_a_restart()
    {
        var registry = ParticipantRegistry.Open(_path);
        registry.Add(Supplier(), [certificates.First], [ApiKeys.Hash("key-1")]);

        var reopened = ParticipantRegistry.Open(_path);

        Assert.Equal("SUPA", reopened.FindByCertificate(DipSignatureVerifier.Thumbprint(certificates.First))!.Participant.Mpid);
        Assert.Equal(Key(), reopened.FindByApiKey("key-1")!.Key);
        Assert.Null(reopened.FindByApiKey("key-2"));
    }

    [Fact]
    public void During_a_certificate_rotation_both_certificates_identify_the_participant_until_the_old_one_is_removed()
    {
        var registry = ParticipantRegistry.Open(_path);
        registry.Add(Supplier(), [certificates.First], []);

        registry.AddCertificate(Key(), certificates.Second);
        var both = (registry.FindByCertificate(DipSignatureVerifier.Thumbprint(certificates.First)), registry.FindByCertificate(DipSignatureVerifier.Thumbprint(certificates.Second)));
        registry.RemoveCertificate(Key(), DipSignatureVerifier.Thumbprint(certificates.First));

        Assert.NotNull(both.Item1);
        Assert.NotNull(both.Item2);
        Assert.Null(registry.FindByCertificate(DipSignatureVerifier.Thumbprint(certificates.First)));
        Assert.Single(ParticipantRegistry.Open(_path).Find(Key())!.Certificates);
    }

    [Fact]
    public void The_same_dip_id_in_two_environments_is_two_isolated_participants()
    {
        var registry = ParticipantRegistry.Open(_path);
        registry.Add(Supplier(MarketEnvironment.DEV), [], [ApiKeys.Hash("dev-key")]);
        registry.Add(Supplier(MarketEnvironment.SIT), [], [ApiKeys.Hash("sit-key")]);

        Assert.Equal(MarketEnvironment.DEV, registry.FindByApiKey("dev-key")!.Participant.Environment);
        Assert.Equal(MarketEnvironment.SIT, registry.FindByApiKey("sit-key")!.Participant.Environment);
        Assert.Equal(2, registry.List().Count);
        Assert.Single(registry.List(MarketEnvironment.SIT));
    }

    [Fact]
    public void One_certificate_cannot_identify_two_participants()
    {
        var registry = ParticipantRegistry.Open(_path);
        registry.Add(Supplier(MarketEnvironment.DEV), [certificates.First], []);

        var e = Assert.Throws<RegistryException>(() => registry.Add(Supplier(MarketEnvironment.UIT), [certificates.First], []));

        Assert.Equal(RegistryRefusal.CredentialInUse, e.Refusal);
        Assert.Null(registry.Find(Key(MarketEnvironment.UIT)));
        Assert.Null(ParticipantRegistry.Open(_path).Find(Key(MarketEnvironment.UIT)));
    }

    [Fact]
    public void Removing_the_last_credential_is_refused()
    {
        var registry = ParticipantRegistry.Open(_path);
        registry.Add(Supplier(), [certificates.First], []);

        var e = Assert.Throws<RegistryException>(() => registry.RemoveCertificate(Key(), DipSignatureVerifier.Thumbprint(certificates.First)));

        Assert.Equal(RegistryRefusal.LastCredential, e.Refusal);
        Assert.NotNull(registry.FindByCertificate(DipSignatureVerifier.Thumbprint(certificates.First)));
    }

    [Theory]
    [InlineData("123", "SUPA", "not 10 digits")]
    [InlineData("1000000001", "supa", "not 4 upper-case letters")]
    public void A_participant_with_a_malformed_dip_id_or_mpid_is_refused(string dipId, string mpid, string why)
    {
        var registry = ParticipantRegistry.Open(_path);

        var e = Assert.Throws<RegistryException>(() => registry.Add(Supplier() with { DipId = dipId, Mpid = mpid }, [], [ApiKeys.Hash("k")]));

        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Temporary_files_left_by_a_crash_are_removed_and_the_last_complete_registry_is_read()
    {
        var registry = ParticipantRegistry.Open(_path);
        registry.Add(Supplier(), [], [ApiKeys.Hash("key-1")]);
        var leftover = _path + ".tmp-deadbeef";
        File.WriteAllText(leftover, "{ half a regis");

        var reopened = ParticipantRegistry.Open(_path);

        Assert.False(File.Exists(leftover));
        Assert.NotNull(reopened.FindByApiKey("key-1"));
    }

    [Fact]
    public void A_registration_whose_write_landed_but_whose_answer_was_lost_succeeds_instead_of_reporting_itself_a_duplicate()
    {
        // A shared store between two leaders: the compare-and-set is applied, its answer never arrives.
        var storage = new LostFirstAnswer(new FileRegistryStorage(_path));
        var registry = ParticipantRegistry.Open(storage);

        var registered = registry.Add(Supplier(), [certificates.First], [ApiKeys.Hash("key-1")]);

        Assert.Equal(1, storage.LostAnswers);
        Assert.Equal(Key(), registered.Key);
        Assert.Equal(Key(), registry.FindByApiKey("key-1")!.Key);
        Assert.Throws<RegistryException>(() => registry.Add(Supplier(), [certificates.Second], [ApiKeys.Hash("key-2")])); // a real duplicate still is one
    }

    /// <summary>Writes through, but answers the first write as if another node had changed the document first.</summary>
    private sealed class LostFirstAnswer(IRegistryStorage inner) : IRegistryStorage
    {
        public int LostAnswers { get; private set; }

        public (byte[]? Document, ulong Revision) Read() => inner.Read();

        public ulong? TryReplace(byte[] document, ulong expectedRevision)
        {
            var revision = inner.TryReplace(document, expectedRevision);
            if (LostAnswers > 0)
            {
                return revision;
            }

            LostAnswers++;
            return null;
        }
    }
}
