using System.Security.Cryptography.X509Certificates;

namespace Halfhour.Client.Transport;

/// <summary>Loads a certificate with its private key from PEM files: a participant's credentials for mutual TLS and signing, or a server's.</summary>
public static class PemCredentials
{
    /// <summary>Loads a PEM certificate and its PEM private key into one certificate usable for TLS and signing.</summary>
    public static X509Certificate2 Load(string certificatePath, string privateKeyPath)
    {
        using var ephemeral = X509Certificate2.CreateFromPemFile(certificatePath, privateKeyPath);
        return Persistable(ephemeral);
    }

    /// <summary>The same as <see cref="Load"/>, from PEM text instead of files.</summary>
    public static X509Certificate2 FromPem(string certificatePem, string privateKeyPem)
    {
        using var ephemeral = X509Certificate2.CreateFromPem(certificatePem, privateKeyPem);
        return Persistable(ephemeral);
    }

    // A round trip through PKCS#12 gives the key a form every TLS stack accepts for a local certificate.
    private static X509Certificate2 Persistable(X509Certificate2 ephemeral) =>
        X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
}
