using System.Security.Cryptography.X509Certificates;
using System.Text;
using Halfhour.Client.Signing;

namespace Halfhour.Client.Tests.Signing;

public sealed class SigningCertificates : IDisposable
{
    public X509Certificate2 Authority { get; } = TestCertificates.Authority();
    public X509Certificate2 Supplier { get; }
    public X509Certificate2 SupplierRotated { get; }
    public X509Certificate2 Distributor { get; }

    public SigningCertificates()
    {
        Supplier = TestCertificates.Participant(Authority, "1000000001");
        SupplierRotated = TestCertificates.Participant(Authority, "1000000001");
        Distributor = TestCertificates.Participant(Authority, "1000000002");
    }

    public void Dispose()
    {
        Authority.Dispose();
        Supplier.Dispose();
        SupplierRotated.Dispose();
        Distributor.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class SigningCollection : ICollectionFixture<SigningCertificates>
{
    public const string Name = "signing certificates";
}

[Collection(SigningCollection.Name)]
public class DipSignatureVerifierTests(SigningCertificates certificates)
{
    private static readonly Uri s_channel = new("https://127.0.0.1:8443/dip-channel/IF-021");
    private static readonly byte[] s_body = Encoding.UTF8.GetBytes("""[{"payload":{"CommonBlock":{},"CustomBlock":{}}}]""");
    // The certificates are issued relative to the wall clock (valid from a day ago), so the signing clock starts from it too: a
    // fixed date here made every verification fail once the wall clock passed it by a day.
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));

    private DipSignatureHeaders SignNow(X509Certificate2? with = null, byte[]? body = null, Uri? url = null) =>
        new DipRequestSigner(with ?? certificates.Supplier, _clock).Sign("POST", url ?? s_channel, body ?? s_body);

    private SignatureVerification Verify(DipSignatureHeaders headers, byte[]? body = null, string method = "POST", string? url = null,
        SignatureReplayGuard? guard = null, params X509Certificate2[] registered) =>
        new DipSignatureVerifier(new SignatureVerificationOptions(), _clock, guard)
            .Verify(method, url ?? s_channel.AbsoluteUri, headers, body ?? s_body,
                registered.Length == 0 ? [certificates.Supplier] : registered);

    private static DipSignatureHeaders WithHeader(DipSignatureHeaders h, string header, string? value) => header switch
    {
        DipSignatureHeaders.SignatureName => h with { Signature = value },
        DipSignatureHeaders.SignatureDateName => h with { SignatureDate = value },
        DipSignatureHeaders.ContentHashName => h with { ContentHash = value },
        _ => h with { SignatureCertificate = value },
    };

    [Fact]
    public void A_request_signed_with_the_registered_certificate_verifies()
    {
        var result = Verify(SignNow());

        Assert.True(result.IsValid, result.ToString());
        Assert.Equal(DipSignatureVerifier.Thumbprint(certificates.Supplier), result.CertificateThumbprint);
        Assert.Equal(_clock.Now, result.SignedAt);
    }

    [Fact]
    public void A_participant_with_a_rotated_certificate_verifies_with_either_registered_certificate()
    {
        X509Certificate2[] registered = [certificates.Supplier, certificates.SupplierRotated];

        Assert.True(Verify(SignNow(certificates.Supplier), registered: registered).IsValid);
        Assert.True(Verify(SignNow(certificates.SupplierRotated), registered: registered).IsValid);
    }

    [Fact]
    public void A_body_changed_after_signing_is_refused_as_a_content_hash_mismatch()
    {
        var tampered = Encoding.UTF8.GetBytes("""[{"payload":{"CommonBlock":{"S0":{}},"CustomBlock":{}}}]""");

        var result = Verify(SignNow(), body: tampered);

        Assert.Equal(SignatureFailure.ContentHashMismatch, result.Failure);
        Assert.Contains("X-DIP-Content-Hash", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_content_hash_replaced_to_match_a_changed_body_is_refused_as_a_signature_mismatch()
    {
        var tampered = Encoding.UTF8.GetBytes("[]");
        var headers = SignNow() with { ContentHash = StringToSign.ContentHash(tampered) };

        var result = Verify(headers, body: tampered);

        Assert.Equal(SignatureFailure.SignatureMismatch, result.Failure);
        Assert.Contains("does not verify", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_request_signed_with_another_participants_certificate_is_refused_as_not_registered()
    {
        var result = Verify(SignNow(certificates.Distributor));

        Assert.Equal(SignatureFailure.CertificateNotRegistered, result.Failure);
        Assert.Contains("CN=1000000002", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Another_participants_certificate_header_over_this_participants_signature_is_refused()
    {
        var foreign = SignNow(certificates.Distributor);
        var headers = SignNow() with { SignatureCertificate = foreign.SignatureCertificate };

        var result = Verify(headers, registered: [certificates.Supplier, certificates.Distributor]);

        Assert.Equal(SignatureFailure.SignatureMismatch, result.Failure);
    }

    [Fact]
    public void A_signature_dated_before_the_skew_window_is_refused_as_too_old()
    {
        var headers = SignNow();
        _clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));

        var result = Verify(headers);

        Assert.Equal(SignatureFailure.SignatureDateTooOld, result.Failure);
        Assert.Contains("301 s before", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signature_dated_inside_the_skew_window_verifies()
    {
        var headers = SignNow();
        _clock.Advance(TimeSpan.FromMinutes(4));

        Assert.True(Verify(headers).IsValid);
    }

    [Fact]
    public void A_signature_dated_after_the_skew_window_is_refused_as_in_the_future()
    {
        var headers = SignNow();
        _clock.Advance(-TimeSpan.FromMinutes(6));

        var result = Verify(headers);

        Assert.Equal(SignatureFailure.SignatureDateInFuture, result.Failure);
        Assert.Contains("360 s after", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signature_accepted_once_is_refused_as_a_replay_the_second_time()
    {
        var guard = new SignatureReplayGuard(clock: _clock);
        var headers = SignNow();

        var first = Verify(headers, guard: guard);
        _clock.Advance(TimeSpan.FromSeconds(30));
        var second = Verify(headers, guard: guard);

        Assert.True(first.IsValid);
        Assert.Equal(SignatureFailure.Replayed, second.Failure);
        Assert.Contains("already accepted", second.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_request_signed_again_a_moment_later_is_not_a_replay()
    {
        var guard = new SignatureReplayGuard(clock: _clock);

        var first = Verify(SignNow(), guard: guard);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        var second = Verify(SignNow(), guard: guard);

        Assert.True(first.IsValid);
        Assert.True(second.IsValid, second.ToString());
    }

    [Fact]
    public void A_forged_signature_is_not_recorded_by_the_replay_guard()
    {
        var guard = new SignatureReplayGuard(clock: _clock);
        var forged = SignNow() with { ContentHash = StringToSign.ContentHash([]) };

        Verify(forged, body: []);

        Assert.Equal(0, guard.Count);
    }

    [Fact]
    public void A_different_method_than_the_one_signed_is_refused_as_a_signature_mismatch() =>
        Assert.Equal(SignatureFailure.SignatureMismatch, Verify(SignNow(), method: "PUT").Failure);

    [Fact]
    public void A_different_url_than_the_one_signed_is_refused_as_a_signature_mismatch() =>
        Assert.Equal(SignatureFailure.SignatureMismatch, Verify(SignNow(), url: "https://127.0.0.1:8443/dip-channel/IF-022").Failure);

    [Fact]
    public void The_url_is_compared_lower_cased_so_its_case_as_received_does_not_matter()
    {
        var headers = SignNow(url: new Uri("https://LOCALHOST:8443/DIP-Channel/IF-021"));

        Assert.True(Verify(headers, url: "https://localhost:8443/dip-channel/if-021").IsValid);
        Assert.True(Verify(headers, url: "HTTPS://LocalHost:8443/DIP-CHANNEL/IF-021").IsValid);
    }

    [Theory]
    [InlineData(DipSignatureHeaders.SignatureName)]
    [InlineData(DipSignatureHeaders.SignatureDateName)]
    [InlineData(DipSignatureHeaders.ContentHashName)]
    [InlineData(DipSignatureHeaders.SignatureCertificateName)]
    public void A_missing_signing_header_is_refused_naming_the_header(string header)
    {
        var result = Verify(WithHeader(SignNow(), header, header == DipSignatureHeaders.SignatureDateName ? " " : null));

        Assert.Equal(SignatureFailure.MissingHeader, result.Failure);
        Assert.Contains(header, result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DipSignatureHeaders.ContentHashName, "not*base64")]
    [InlineData(DipSignatureHeaders.ContentHashName, "AAAA")]
    [InlineData(DipSignatureHeaders.SignatureDateName, "2026-11-27T08:00:00")]
    [InlineData(DipSignatureHeaders.SignatureDateName, "yesterday")]
    [InlineData(DipSignatureHeaders.SignatureCertificateName, "not*base64")]
    [InlineData(DipSignatureHeaders.SignatureCertificateName, "bm90IGEgY2VydGlmaWNhdGU=")]
    [InlineData(DipSignatureHeaders.SignatureName, "not*base64")]
    public void A_malformed_signing_header_is_refused_naming_the_header(string header, string value)
    {
        var result = Verify(WithHeader(SignNow(), header, value));

        Assert.Equal(SignatureFailure.MalformedHeader, result.Failure);
        Assert.Contains(header, result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_certificate_header_holding_der_instead_of_pem_is_read_too()
    {
        var headers = SignNow() with { SignatureCertificate = Convert.ToBase64String(certificates.Supplier.RawData) };

        Assert.True(Verify(headers).IsValid);
    }

    [Fact]
    public void A_certificate_not_valid_at_the_signing_date_is_refused()
    {
        using var expired = TestCertificates.Participant(certificates.Authority, "1000000001",
            _clock.Now.AddDays(-30), _clock.Now.AddDays(-1));

        var result = Verify(SignNow(expired), registered: expired);

        Assert.Equal(SignatureFailure.CertificateNotValidAtSigningDate, result.Failure);
    }

    [Fact]
    public void A_registered_certificate_with_a_non_rsa_key_is_refused_as_unsupported()
    {
        using var ecdsa = TestCertificates.Ecdsa("1000000001");
        var headers = SignNow() with { SignatureCertificate = Convert.ToBase64String(Encoding.ASCII.GetBytes(ecdsa.ExportCertificatePem())) };

        var result = Verify(headers, registered: ecdsa);

        Assert.Equal(SignatureFailure.UnsupportedKey, result.Failure);
    }

    [Fact]
    public void The_signature_certificate_header_is_base64_of_the_pem_certificate()
    {
        var pem = Encoding.ASCII.GetString(Convert.FromBase64String(SignNow().SignatureCertificate!));

        Assert.StartsWith("-----BEGIN CERTIFICATE-----", pem, StringComparison.Ordinal);
        Assert.Equal(certificates.Supplier.ExportCertificatePem(), pem);
    }

    [Fact]
    public void A_signer_refuses_a_certificate_without_its_private_key()
    {
        using var publicOnly = X509CertificateLoader.LoadCertificate(certificates.Supplier.RawData);

        var e = Assert.Throws<ArgumentException>(() => new DipRequestSigner(publicOnly));
        Assert.Contains("private key", e.Message, StringComparison.Ordinal);
    }
}
