using Halfhour.Client.Transport;

namespace Halfhour.Client.Tests.Transport;

public class PrivateCaTrustTests
{
    [Fact]
    public void A_client_certificate_issued_by_the_authority_is_trusted_and_one_from_another_authority_is_not()
    {
        using var authority = TestCertificates.Authority("Trusted CA");
        using var stranger = TestCertificates.Authority("Stranger CA");
        using var issued = TestCertificates.Participant(authority, "1000000001");
        using var foreign = TestCertificates.Participant(stranger, "1000000001");
        var trust = new PrivateCaTrust([authority]);

        Assert.Null(trust.Check(issued, ExtendedKeyUsage.ClientAuthentication));
        Assert.Contains("not trusted", trust.Check(foreign, ExtendedKeyUsage.ClientAuthentication), StringComparison.Ordinal);
    }

    [Fact]
    public void A_client_certificate_is_not_trusted_for_server_authentication()
    {
        using var authority = TestCertificates.Authority();
        using var issued = TestCertificates.Participant(authority, "1000000001");

        Assert.NotNull(new PrivateCaTrust([authority]).Check(issued, ExtendedKeyUsage.ServerAuthentication));
    }
}
