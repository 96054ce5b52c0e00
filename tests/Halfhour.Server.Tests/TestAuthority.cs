using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Halfhour.Server.Tests;

/// <summary>
/// Certificates from outside the backbone's authority. ECDSA, because it is generated in a millisecond where RSA
/// takes up to a second here, and none of these ever needs to make a DIP signature.
/// </summary>
internal static class TestAuthority
{
    public static X509Certificate2 SelfSigned(string dipId)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dipId}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), password: null);
    }
}
