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

/// <summary>A quick ECDSA authority for identity tests that need a chain but no DIP signature.</summary>
internal sealed class EcdsaAuthority : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public EcdsaAuthority()
    {
        var request = new CertificateRequest("CN=Identity Test CA", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        var now = DateTimeOffset.UtcNow;
        Certificate = request.CreateSelfSigned(now.AddYears(-1), now.AddYears(1));
    }

    public X509Certificate2 Certificate { get; }

    public X509Certificate2 Issue(string dipId, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dipId}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var issued = request.Create(Certificate, notBefore, notAfter, RandomNumberGenerator.GetBytes(8));
        return issued.CopyWithPrivateKey(key);
    }

    public void Dispose()
    {
        Certificate.Dispose();
        _key.Dispose();
    }
}
