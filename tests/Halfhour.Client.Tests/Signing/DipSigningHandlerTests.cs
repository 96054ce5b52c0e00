using System.Net;
using System.Text;
using Halfhour.Client.Signing;

namespace Halfhour.Client.Tests.Signing;

[Collection(SigningCollection.Name)]
public class DipSigningHandlerTests(SigningCertificates certificates)
{
    private sealed class VerifyingEndpoint(DipSignatureVerifier verifier, SigningCertificates certificates) : HttpMessageHandler
    {
        public SignatureVerification? Result { get; private set; }
        public string? BodyReceived { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            BodyReceived = Encoding.UTF8.GetString(body);
            var headers = DipSignatureHeaders.Read(name => request.Headers.TryGetValues(name, out var v) ? v.Single() : null);
            Result = verifier.Verify(request.Method.Method, request.RequestUri!.AbsoluteUri, headers, body, [certificates.Supplier]);
            return new HttpResponseMessage(HttpStatusCode.Created);
        }
    }

    [Fact]
    public async Task Every_request_sent_through_the_handler_carries_a_signature_that_verifies()
    {
        var endpoint = new VerifyingEndpoint(new DipSignatureVerifier(), certificates);
        using var client = new HttpClient(new DipSigningHandler(new DipRequestSigner(certificates.Supplier), endpoint));
        const string body = """[{"payload":{}}]""";

        using var response = await client.PostAsync(new Uri("https://127.0.0.1:8443/dip-channel/IF-021"),
            new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.True(endpoint.Result!.IsValid, endpoint.Result.ToString());
        Assert.Equal(body, endpoint.BodyReceived);
    }

    [Fact]
    public async Task A_request_without_a_body_is_signed_over_the_empty_body()
    {
        var endpoint = new VerifyingEndpoint(new DipSignatureVerifier(), certificates);
        using var client = new HttpClient(new DipSigningHandler(new DipRequestSigner(certificates.Supplier), endpoint));

        using var response = await client.GetAsync(new Uri("https://127.0.0.1:8443/dip-channel/IF-021/pubconfig/1000000001"));

        Assert.True(endpoint.Result!.IsValid, endpoint.Result.ToString());
    }
}
