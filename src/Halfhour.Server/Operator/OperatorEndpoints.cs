using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Halfhour.Client.Signing;
using Halfhour.Client.Transport;
using Halfhour.Market.Participants;
using Halfhour.Server.Credentials;
using Halfhour.Server.Hosting;
using Halfhour.Server.Participants;
using Halfhour.Server.Problems;
using Halfhour.Server.Sandbox;

namespace Halfhour.Server.Operator;

/// <summary>
/// The operator's participant administration: list, register, rotate credentials, retire a certificate; and the process's
/// runtime figures. Secrets (API keys, issued private keys) appear once, in the answer to the call that created them.
/// </summary>
internal static class OperatorEndpoints
{
    public static void Map(IEndpointRouteBuilder routes)
    {
        var group = routes.MapGroup("/operator").AddEndpointFilter<OperatorKeyFilter>().WithTags("Operator");
        group.MapGet("/participants", List).WithSummary("List participants, optionally of one environment");
        group.MapPost("/participants", Register).WithSummary("Register a participant; answers its API key (once) and certificate");
        group.MapPost("/participants/{environment}/{dipId}/credentials", Rotate).WithSummary("Rotate a participant's credentials");
        group.MapDelete("/participants/{environment}/{dipId}/certificates/{thumbprint}", RetireCertificate).WithSummary("Retire one certificate of a participant");
        group.MapGet("/runtime", () => TypedResults.Ok(RuntimeFigures.OfThisProcess()))
            .WithSummary("What the backbone's process has used since it started: CPU, bytes allocated, collections, thread pool (counters only grow)");
        group.MapGet("/inbox-reading", (IServiceProvider services) => TypedResults.Ok(services.GetService<BackboneHost>()?.Current?.InboxReading()))
            .WithSummary("What this node's inbox readers met of renumbered or dropped records since it started: re-reads, leases handed out again, pointers passed over by cause (counters only grow; null before the backbone is up)");
    }

    private static IResult List(ParticipantRegistry registry, string? environment)
    {
        if (environment is null) return TypedResults.Ok(registry.List().Select(ParticipantView.Of));
        return TryEnvironment(environment, out var env, out var problem)
            ? TypedResults.Ok(registry.List(env).Select(ParticipantView.Of))
            : problem;
    }

    private static IResult Register(RegisterParticipantRequest request, ParticipantRegistry registry, SandboxCredentials sandbox, OperatorAudit audit)
    {
        if (!TryEnvironment(request.Environment, out var environment, out var problem)) return problem;
        if (!Enum.TryParse<Role>(request.Role, ignoreCase: true, out var role) || !Enum.IsDefined(role))
        {
            return Problem.Result(400, "Unknown role", $"'{request.Role}' is not a DIP role; use one of {string.Join(", ", Enum.GetNames<Role>())}.", "unknown-role");
        }

        var participant = new Participant { DipId = request.DipId, Role = role, Mpid = request.Mpid, Name = request.Name, Environment = environment };
        if (!TryCertificate(request.CertificatePem, participant, sandbox, out var credentials, out problem)) return problem;
        using (credentials.Certificate)
        {
            var apiKey = ApiKeys.Generate();
            return Refusable(() =>
            {
                var registered = registry.Add(participant, [credentials.Certificate], [ApiKeys.Hash(apiKey)]);
                audit.Registered(registered.Key, role.ToString(), DipSignatureVerifier.Thumbprint(credentials.Certificate));
                return TypedResults.Created($"/operator/participants/{environment}/{participant.DipId}",
                    new IssuedCredentials(ParticipantView.Of(registered), apiKey, credentials.CertificatePem, NullIfEmpty(credentials.PrivateKeyPem)));
            });
        }
    }

    private static IResult Rotate(string environment, string dipId, RotateCredentialsRequest? request, ParticipantRegistry registry, SandboxCredentials sandbox,
        OperatorAudit audit)
    {
        request ??= new RotateCredentialsRequest(null, RetirePrevious: false);
        if (!TryEnvironment(environment, out var env, out var problem)) return problem;
        var key = new ParticipantKey(env, dipId);
        if (registry.Find(key) is not { } existing)
        {
            return Problem.Result(404, "Unknown participant", $"No participant {key} is registered.", "unknown-participant");
        }

        if (!TryCertificate(request.CertificatePem, existing.Participant, sandbox, out var credentials, out problem)) return problem;
        using (credentials.Certificate)
        {
            var apiKey = ApiKeys.Generate();
            return Refusable(() =>
            {
                registry.AddCertificate(key, credentials.Certificate);
                if (request.RetirePrevious)
                {
                    registry.RetainCertificates(key, new HashSet<string>([DipSignatureVerifier.Thumbprint(credentials.Certificate)], StringComparer.OrdinalIgnoreCase));
                }

                var updated = registry.AddApiKey(key, ApiKeys.Hash(apiKey), replaceOthers: request.RetirePrevious);
                audit.Rotated(key, DipSignatureVerifier.Thumbprint(credentials.Certificate), request.RetirePrevious);
                return TypedResults.Ok(new IssuedCredentials(ParticipantView.Of(updated), apiKey, credentials.CertificatePem, NullIfEmpty(credentials.PrivateKeyPem)));
            });
        }
    }

    private static IResult RetireCertificate(string environment, string dipId, string thumbprint, ParticipantRegistry registry, OperatorAudit audit)
    {
        if (!TryEnvironment(environment, out var env, out var problem)) return problem;
        var key = new ParticipantKey(env, dipId);
        return Refusable(() =>
        {
            var updated = registry.RemoveCertificate(key, thumbprint);
            audit.CertificateRetired(key, thumbprint);
            return TypedResults.Ok(ParticipantView.Of(updated));
        });
    }

    private static IResult Refusable(Func<IResult> change)
    {
        try
        {
            return change();
        }
        catch (RegistryException e)
        {
            var (status, title, reason) = e.Refusal switch
            {
                RegistryRefusal.NotFound => (404, "Unknown participant or credential", "not-registered"),
                RegistryRefusal.AlreadyExists => (409, "Participant already registered", "already-registered"),
                RegistryRefusal.CredentialInUse => (409, "Credential already in use", "credential-in-use"),
                RegistryRefusal.LastCredential => (409, "Last credential", "last-credential"),
                _ => (400, "Invalid participant", "invalid-participant"),
            };
            return Problem.Result(status, title, e.Message, reason);
        }
    }

    private static string? NullIfEmpty(string text) => text.Length == 0 ? null : text;

    private static bool TryEnvironment(string? text, out MarketEnvironment environment, out IResult problem)
    {
        problem = Results.Empty;
        if (Enum.TryParse(text, ignoreCase: true, out environment) && Enum.IsDefined(environment)) return true;
        problem = Problem.Result(400, "Unknown environment",
            $"'{text}' is not an environment; use one of {string.Join(", ", Enum.GetNames<MarketEnvironment>())}.", "unknown-environment");
        return false;
    }

    // The participant's own certificate when the operator supplies one (it must come from the backbone's
    // authority, or mutual TLS would refuse it), otherwise a new one issued by that authority.
    private static bool TryCertificate(string? pem, Participant participant, SandboxCredentials sandbox, out IssuedCertificate credentials, out IResult problem)
    {
        problem = Results.Empty;
        if (string.IsNullOrWhiteSpace(pem))
        {
            credentials = sandbox.Authority.IssueClientCertificate(participant.DipId, participant.Name);
            return true;
        }

        credentials = null!;
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(pem);
        }
        catch (CryptographicException e)
        {
            problem = Problem.Result(400, "Unreadable certificate", $"certificatePem is not a PEM certificate: {e.Message}", "certificate-unreadable");
            return false;
        }

        if (certificate.GetRSAPublicKey() is null)
        {
            certificate.Dispose();
            problem = Problem.Result(400, "Certificate key not RSA",
                "DIP message signatures are RSA PKCS#1 v1.5 with SHA-256, so the participant's certificate must carry an RSA key (2048 bits or more).", "certificate-not-rsa");
            return false;
        }

        credentials = new IssuedCertificate(certificate, pem, PrivateKeyPem: "");
        return true;
    }
}

/// <summary>A request to register a participant; without a certificate one is issued by the backbone's authority.</summary>
internal sealed record RegisterParticipantRequest(string DipId, string Role, string Mpid, string Name, string Environment, string? CertificatePem);

/// <summary>A request to rotate credentials: a new API key always, a new certificate (given or issued), old ones kept unless retired.</summary>
internal sealed record RotateCredentialsRequest(string? CertificatePem, bool RetirePrevious);

/// <summary>Credentials issued by a call, shown once.</summary>
internal sealed record IssuedCredentials(ParticipantView Participant, string ApiKey, string CertificatePem, string? PrivateKeyPem);

/// <summary>A participant as the operator API shows it: no secrets, not even hashes.</summary>
internal sealed record ParticipantView(string DipId, Role Role, string Mpid, string Name, MarketEnvironment Environment,
    IReadOnlyList<CertificateView> Certificates, int ApiKeys)
{
    public static ParticipantView Of(RegisteredParticipant p) => new(p.Participant.DipId, p.Participant.Role, p.Participant.Mpid, p.Participant.Name,
        p.Participant.Environment, [.. p.Certificates.Select(c => new CertificateView(c.Thumbprint, c.Subject, c.NotAfter))], p.ApiKeys.Count);
}

/// <summary>A registered certificate as the operator API shows it.</summary>
internal sealed record CertificateView(string Thumbprint, string Subject, DateTimeOffset NotAfter);
