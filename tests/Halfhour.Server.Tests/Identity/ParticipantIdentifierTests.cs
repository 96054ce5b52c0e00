using System.Security.Cryptography.X509Certificates;
using Halfhour.Client.Transport;
using Halfhour.Market.Participants;
using Halfhour.Server.Credentials;
using Halfhour.Server.Identity;
using Halfhour.Server.Participants;

namespace Halfhour.Server.Tests.Identity;

public sealed class ParticipantIdentifierTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "halfhour-identifier-" + Guid.NewGuid().ToString("N"));
    private readonly EcdsaAuthority _authority = new();
    private readonly ParticipantRegistry _registry;

    public ParticipantIdentifierTests() => _registry = ParticipantRegistry.Open(Path.Combine(_directory, "participants.json"));

    public void Dispose()
    {
        _authority.Dispose();
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    private ParticipantIdentifier Identifier(bool requireClientCertificate = false) =>
        new(_registry, new PrivateCaTrust([_authority.Certificate]), requireClientCertificate, TimeProvider.System);

    private void Register(string dipId, X509Certificate2? certificate = null, string? apiKey = null) =>
        _registry.Add(new Participant { DipId = dipId, Role = Role.SUP, Mpid = "SUPA", Name = "Supplier", Environment = MarketEnvironment.UIT },
            certificate is null ? [] : [certificate], apiKey is null ? [] : [ApiKeys.Hash(apiKey)]);

    [Fact]
    public void A_registered_certificate_issued_by_the_authority_identifies_its_participant()
    {
        using var certificate = _authority.Issue("1000000001", DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        Register("1000000001", certificate);

        var (participant, failure) = Identifier().Identify(certificate, apiKey: null);

        Assert.Null(failure);
        Assert.Equal(new ParticipantKey(MarketEnvironment.UIT, "1000000001"), participant!.Key);
        Assert.Equal(IdentifiedBy.ClientCertificate, participant.IdentifiedBy);
    }

    [Fact]
    public void A_registered_certificate_that_does_not_chain_to_the_authority_is_refused_as_untrusted()
    {
        using var selfSigned = TestAuthority.SelfSigned("1000000002");
        Register("1000000002", selfSigned);

        var (_, failure) = Identifier().Identify(selfSigned, apiKey: null);

        Assert.Equal("client-certificate-untrusted", failure!.Reason);
        Assert.Equal(401, failure.Status);
    }

    [Fact]
    public void An_expired_registered_certificate_is_refused_as_untrusted()
    {
        using var expired = _authority.Issue("1000000003", DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(-1));
        Register("1000000003", expired);

        var (_, failure) = Identifier().Identify(expired, apiKey: null);

        Assert.Equal("client-certificate-untrusted", failure!.Reason);
        Assert.Contains("Renew", failure.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void An_api_key_alone_is_refused_when_client_certificates_are_required()
    {
        Register("1000000004", apiKey: "key-4");

        var (_, failure) = Identifier(requireClientCertificate: true).Identify(null, "key-4");

        Assert.Equal("client-certificate-required", failure!.Reason);
    }
}
