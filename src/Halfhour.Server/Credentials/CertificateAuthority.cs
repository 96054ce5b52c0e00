using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Halfhour.Client.Transport;
using Halfhour.Server.Storage;

namespace Halfhour.Server.Credentials;

/// <summary>A certificate with its key as PEM text, the form written to disk and handed to a participant.</summary>
/// <param name="Certificate">The certificate with its private key attached.</param>
/// <param name="CertificatePem">The certificate as PEM.</param>
/// <param name="PrivateKeyPem">The private key as PKCS#8 PEM.</param>
public sealed record IssuedCertificate(X509Certificate2 Certificate, string CertificatePem, string PrivateKeyPem);

/// <summary>
/// The backbone's own certificate authority: issues the server's TLS certificate and participants' client
/// certificates (CN = DIP ID). All keys are RSA, because DIP message signatures are RSA PKCS#1 v1.5 and a
/// participant signs with the key of its client certificate.
/// </summary>
public sealed class CertificateAuthority : IDisposable
{
    /// <summary>RSA 3072 for the authority: it lives ten years, past the point (2030) where 2048-bit keys are retired.</summary>
    public const int AuthorityKeyBits = 3072;

    /// <summary>RSA 2048 for leaves: accepted through 2030, the DIP's own size, and quick to generate for a sandbox of a key per role.</summary>
    public const int LeafKeyBits = 2048;

    /// <summary>Ten years: the authority outlives many rotations of the certificates it issues.</summary>
    public static readonly TimeSpan AuthorityLifetime = TimeSpan.FromDays(3652);

    /// <summary>397 days, the longest lifetime TLS clients accept for a server certificate.</summary>
    public static readonly TimeSpan ServerLifetime = TimeSpan.FromDays(397);

    /// <summary>Two years for participants' certificates: long enough for a test campaign, short enough to practise rotation.</summary>
    public static readonly TimeSpan ClientLifetime = TimeSpan.FromDays(730);

    // Certificates start an hour back so that a participant whose clock runs slightly behind accepts them.
    private static readonly TimeSpan s_backdate = TimeSpan.FromHours(1);

    private readonly TimeProvider _clock;

    private CertificateAuthority(X509Certificate2 certificate, TimeProvider clock)
    {
        Certificate = certificate;
        _clock = clock;
    }

    /// <summary>The authority's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>Loads the authority from its PEM files, or creates it (certificate 0644, key 0600) when they do not exist.</summary>
    public static CertificateAuthority LoadOrCreate(string certificatePath, string privateKeyPath, string name, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        if (File.Exists(certificatePath) && File.Exists(privateKeyPath))
        {
            return new CertificateAuthority(PemCredentials.Load(certificatePath, privateKeyPath), clock);
        }

        using var key = RSA.Create(AuthorityKeyBits);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}, O=Halfhour"), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = clock.GetUtcNow();
        using var created = request.CreateSelfSigned(now - s_backdate, now + AuthorityLifetime);
        AtomicFile.WriteText(privateKeyPath, key.ExportPkcs8PrivateKeyPem(), secret: true);
        AtomicFile.WriteText(certificatePath, created.ExportCertificatePem());
        return new CertificateAuthority(PemCredentials.Load(certificatePath, privateKeyPath), clock);
    }

    /// <summary>Issues a TLS server certificate for the given host names and addresses.</summary>
    public IssuedCertificate IssueServerCertificate(IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses)
    {
        var names = new SubjectAlternativeNameBuilder();
        var first = "localhost";
        var any = false;
        foreach (var dns in dnsNames)
        {
            names.AddDnsName(dns);
            if (!any) first = dns;
            any = true;
        }

        foreach (var address in addresses) names.AddIpAddress(address);
        return Issue($"CN={first}, O=Halfhour", ExtendedKeyUsage.ServerAuthentication, X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment,
            ServerLifetime, names.Build());
    }

    /// <summary>
    /// Issues the backbone's own certificate: it signs what the backbone pushes to webhooks (the DIP signature headers)
    /// and identifies the backbone as a TLS client to receivers that ask for one. Kept apart from the TLS server
    /// certificate, which is renewed on its own schedule and is for serving only.
    /// </summary>
    public IssuedCertificate IssueBackboneCertificate(string name) =>
        Issue($"CN={Escape(name)}, O=Halfhour", ExtendedKeyUsage.ClientAuthentication, X509KeyUsageFlags.DigitalSignature, ClientLifetime, alternativeNames: null);

    /// <summary>Issues a participant's client certificate: CN is the DIP ID, O the organisation; usable for mTLS and for signing.</summary>
    public IssuedCertificate IssueClientCertificate(string dipId, string organisation) =>
        Issue($"CN={dipId}, O={Escape(organisation)}", ExtendedKeyUsage.ClientAuthentication, X509KeyUsageFlags.DigitalSignature, ClientLifetime, alternativeNames: null);

    /// <summary>
    /// Issues a participant's client certificate for a key the caller holds (a simulated market of hundreds of
    /// participants shares a few keys, as generating an RSA key takes a good part of a second on a small machine).
    /// </summary>
    public IssuedCertificate IssueClientCertificate(string dipId, string organisation, RSA key) =>
        Issue($"CN={dipId}, O={Escape(organisation)}", ExtendedKeyUsage.ClientAuthentication, X509KeyUsageFlags.DigitalSignature, ClientLifetime, alternativeNames: null,
            key ?? throw new ArgumentNullException(nameof(key)));

    /// <inheritdoc />
    public void Dispose() => Certificate.Dispose();

    private IssuedCertificate Issue(string subject, string usage, X509KeyUsageFlags keyUsage, TimeSpan lifetime, X509Extension? alternativeNames, RSA? givenKey = null)
    {
        using var ownKey = givenKey is null ? RSA.Create(LeafKeyBits) : null;
        var key = givenKey ?? ownKey!;
        var request = new CertificateRequest(new X500DistinguishedName(subject), key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(keyUsage, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (alternativeNames is not null) request.CertificateExtensions.Add(alternativeNames);

        var now = _clock.GetUtcNow();
        var notAfter = now + lifetime;
        if (notAfter > Certificate.NotAfter.ToUniversalTime()) notAfter = Certificate.NotAfter.ToUniversalTime();
        // 16 random bytes: serials must be unique per authority and unpredictable (CA/B Forum asks for 64 bits or more).
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive as an ASN.1 INTEGER
        using var issued = request.Create(Certificate, now - s_backdate, notAfter, serial);
        using var withKey = issued.CopyWithPrivateKey(key);
        var certificatePem = issued.ExportCertificatePem();
        var keyPem = key.ExportPkcs8PrivateKeyPem();
        return new IssuedCertificate(X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), password: null), certificatePem, keyPem);
    }

    private static string Escape(string value) =>
        value.IndexOfAny([',', '+', '"', '\\', '<', '>', ';', '=']) >= 0 ? "\"" + value.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"" : value;
}
