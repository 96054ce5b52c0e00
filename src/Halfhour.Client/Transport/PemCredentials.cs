using System.Security.Cryptography.X509Certificates;

namespace Halfhour.Client.Transport;

/// <summary>Loads a certificate with its private key from PEM files: a participant's credentials for mutual TLS and signing, or a server's.</summary>
public static class PemCredentials
{
    /// <summary>Loads a PEM certificate and its PEM private key into one certificate usable for TLS and signing.</summary>
    public static X509Certificate2 Load(string certificatePath, string privateKeyPath)
    {
        using var ephemeral = X509Certificate2.CreateFromPemFile(certificatePath, privateKeyPath);
        // A round trip through PKCS#12 gives the key a form every TLS stack accepts for a local certificate.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
    }
}
