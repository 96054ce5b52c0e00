using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Halfhour.Client.Signing;
using Halfhour.Server.Credentials;
using Halfhour.Simulator.Conformance;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Halfhour.Simulator.Tests;

/// <summary>The backbone's and a forger's certificates, made once: RSA keys take seconds on a busy machine.</summary>
public sealed class ConformanceCertificates : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "halfhour-conformance-tests-" + Guid.NewGuid().ToString("N"));

    public ConformanceCertificates()
    {
        Backbone = Issue("backbone");
        Forger = Issue("forger");
    }

    public X509Certificate2 Backbone { get; }

    public X509Certificate2 Forger { get; }

    public void Dispose()
    {
        Backbone.Dispose();
        Forger.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private X509Certificate2 Issue(string name)
    {
        var folder = Path.Combine(_folder, name);
        Directory.CreateDirectory(folder);
        using var authority = CertificateAuthority.LoadOrCreate(Path.Combine(folder, "ca.pem"), Path.Combine(folder, "ca-key.pem"), name + " CA", TimeProvider.System);
        return authority.IssueBackboneCertificate(name).Certificate;
    }
}

public sealed class WebhookConformanceTests(ConformanceCertificates certificates) : IClassFixture<ConformanceCertificates>
{
    /// <summary>How a test endpoint misbehaves.</summary>
    public enum Flaw
    {
        None,
        SkipsSignatureVerification,
        RefusesDuplicates,
        AnswersMalformed207,
    }

    [Fact]
    public async Task A_correct_endpoint_passes_every_check()
    {
        var checks = await CheckAsync(Flaw.None);
        Assert.All(checks, c => Assert.True(c.Passed, $"{c.Name}: {c.Detail}"));
        Assert.Contains(checks, c => c.Name.Contains("207", StringComparison.Ordinal) && c.Detail.Contains("refused exactly", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_endpoint_that_does_not_verify_signatures_fails_the_forged_and_unsigned_checks_only()
    {
        var failed = Failed(await CheckAsync(Flaw.SkipsSignatureVerification));
        Assert.Equal(["a push signed by another certificate", "an unsigned push is refused"], failed.Select(n => n.Split(" (")[0]).Order());
    }

    [Fact]
    public async Task An_endpoint_that_loses_duplicates_fails_the_duplicate_checks_only()
    {
        var failed = Failed(await CheckAsync(Flaw.RefusesDuplicates));
        Assert.Equal(["a batch of a duplicate and a new message is taken whole", "the same transaction ID pushed again is taken again (idempotently)"], failed.Order());
    }

    [Fact]
    public async Task An_endpoint_with_a_malformed_207_fails_the_multi_status_check_only()
    {
        var checks = await CheckAsync(Flaw.AnswersMalformed207);
        var failed = Assert.Single(checks, c => !c.Passed);
        Assert.Contains("207", failed.Name, StringComparison.Ordinal);
        Assert.Contains("StandardResponse", failed.Detail, StringComparison.Ordinal);
    }

    private static List<string> Failed(IReadOnlyList<WebhookCheck> checks) => [.. checks.Where(c => !c.Passed).Select(c => c.Name)];

    private async Task<IReadOnlyList<WebhookCheck>> CheckAsync(Flaw flaw)
    {
        await using var endpoint = await TestEndpoint.StartAsync(certificates.Backbone, flaw);
        return await new WebhookConformanceChecker(endpoint.Url, certificates.Backbone, certificates.Forger).RunAsync(CancellationToken.None);
    }

    /// <summary>A participant's webhook as it should be written (verify, take idempotently, 207 for what it refuses), or with one flaw.</summary>
    private sealed class TestEndpoint : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly HashSet<string> _taken = new(StringComparer.Ordinal);
        private readonly IReadOnlySet<string> _backbone;
        private readonly Flaw _flaw;
        private readonly DipSignatureVerifier _verifier = new();

        private TestEndpoint(WebApplication app, X509Certificate2 backbone, Flaw flaw)
        {
            _app = app;
            _flaw = flaw;
            _backbone = new HashSet<string>([DipSignatureVerifier.Thumbprint(backbone)], StringComparer.OrdinalIgnoreCase);
        }

        public Uri Url { get; private set; } = null!;

        public static async Task<TestEndpoint> StartAsync(X509Certificate2 backbone, Flaw flaw)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            var endpoint = new TestEndpoint(app, backbone, flaw);
            app.MapPost("/hook", (Func<HttpContext, Task<IResult>>)endpoint.ReceiveAsync);
            await app.StartAsync();
            endpoint.Url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hook");
            return endpoint;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        private async Task<IResult> ReceiveAsync(HttpContext http)
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer);
            var body = buffer.ToArray();
            if (_flaw != Flaw.SkipsSignatureVerification)
            {
                var headers = DipSignatureHeaders.Read(name => http.Request.Headers.TryGetValue(name, out var value) ? value.ToString() : null);
                if (!_verifier.Verify("POST", http.Request.GetEncodedUrl(), headers, body, _backbone).IsValid) return Results.StatusCode(401);
            }

            using var document = JsonDocument.Parse(body);
            var results = new List<object>();
            var refused = false;
            foreach (var message in document.RootElement.EnumerateArray())
            {
                var common = message.GetProperty("payload").GetProperty("CommonBlock");
                var transactionId = common.GetProperty("D0").GetProperty("transactionID").GetString()!;
                var known = common.GetProperty("S0").GetProperty("interfaceID").GetString() == "IF-021";
                bool isNew;
                lock (_taken) isNew = known && _taken.Add(transactionId);
                var code = !known ? "MSG1004 - Unknown Interface"
                    : isNew ? "MSG0000 - Success"
                    : _flaw == Flaw.RefusesDuplicates ? "MSG1002 - Semantic Failure" : "MSG0001 - Duplicate - Already Accepted";
                refused |= !code.StartsWith("MSG000", StringComparison.Ordinal);
                results.Add(new { transactionID = transactionId, message = code });
            }

            if (!refused) return Results.StatusCode(201);
            if (_flaw == Flaw.AnswersMalformed207) return Results.Json(new { refused = results.Count }, statusCode: 207);
            return Results.Json(new { messageArray = results, timestamp = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture) }, statusCode: 207);
        }
    }
}
