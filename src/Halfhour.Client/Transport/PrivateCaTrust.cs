using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Halfhour.Client.Transport;

/// <summary>
/// Trust in certificates issued by one private certificate authority (a backbone's sandbox CA, an operator's
/// CA) instead of the machine's public roots: the server's certificate for a participant, a participant's
/// client certificate for the backbone.
/// </summary>
public sealed class PrivateCaTrust
{
    private readonly X509Certificate2Collection _roots;

    /// <summary>Trusts certificates that chain to any of these authority certificates.</summary>
    public PrivateCaTrust(IEnumerable<X509Certificate2> authorities)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        _roots = [.. authorities];
        if (_roots.Count == 0) throw new ArgumentException("At least one authority certificate is needed.", nameof(authorities));
    }

    /// <summary>Loads the authority certificates from a PEM file (one or more certificates).</summary>
    public static PrivateCaTrust FromPemFile(string path)
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(path);
        return new PrivateCaTrust(roots);
    }

    /// <summary>
    /// Checks that a certificate chains to one of the authorities and is valid now, for the given purpose
    /// (the extended key usage OID, e.g. client or server authentication). Null when it is trusted, otherwise
    /// a sentence saying why not.
    /// </summary>
    public string? Check(X509Certificate2 certificate, string extendedKeyUsageOid, DateTimeOffset? at = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_roots);
        // The authority is the operator's own; it publishes no revocation lists. Revocation is done by removing
        // a certificate's registration, which every request checks.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(extendedKeyUsageOid));
        if (at is { } instant) chain.ChainPolicy.VerificationTime = instant.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        if (chain.Build(certificate)) return null;

        var problems = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        return $"The certificate {certificate.Subject} is not trusted: {(problems.Length > 0 ? problems : "it does not chain to the trusted authority")}.";
    }

    /// <summary>A TLS callback that accepts a server certificate only when it chains to the authorities.</summary>
    public RemoteCertificateValidationCallback ServerCertificateValidation() =>
        (_, certificate, _, errors) =>
            certificate is X509Certificate2 c
            && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) == 0
            && Check(c, ExtendedKeyUsage.ServerAuthentication) is null;
}

/// <summary>The extended key usage OIDs that TLS certificates carry.</summary>
public static class ExtendedKeyUsage
{
    /// <summary>TLS web server authentication (1.3.6.1.5.5.7.3.1).</summary>
    public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    /// <summary>TLS web client authentication (1.3.6.1.5.5.7.3.2).</summary>
    public const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";
}
