using System.Security.Cryptography.X509Certificates;

namespace Halfhour.Client.Transport;

/// <summary>Loads a participant's certificate and private key, the credentials for mutual TLS and message signing.</summary>
public static class ParticipantCredentials
{
    /// <summary>Loads a PEM certificate and its PEM private key into one certificate usable for TLS and signing.</summary>
    public static X509Certificate2 FromPemFiles(string certificatePath, string privateKeyPath)
    {
        using var ephemeral = X509Certificate2.CreateFromPemFile(certificatePath, privateKeyPath);
        // A round trip through PKCS#12 gives the key a form every TLS stack accepts as a client certificate.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
    }
}
