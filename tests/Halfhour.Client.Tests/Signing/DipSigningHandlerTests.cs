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

    [Fact]
    public async Task A_body_in_memory_is_signed_over_exactly_the_bytes_sent_even_as_a_slice_of_a_larger_buffer()
    {
        var endpoint = new VerifyingEndpoint(new DipSignatureVerifier(), certificates);
        using var client = new HttpClient(new DipSigningHandler(new DipRequestSigner(certificates.Supplier), endpoint));
        // A third of a megabyte, the size of a DIP array of 100 consumption messages, lying in the middle of a larger buffer.
        var body = "[" + string.Join(',', Enumerable.Repeat("""{"payload":{"CommonBlock":{},"CustomBlock":{}}}""", 7_000)) + "]";
        var buffer = Encoding.UTF8.GetBytes("garbage before" + body + "garbage after");

        using (var response = await client.PostAsync(new Uri("https://127.0.0.1:8443/dip-channel/IF-021"),
            new ReadOnlyMemoryContent(buffer.AsMemory("garbage before".Length, body.Length))))
        {
            Assert.True(endpoint.Result!.IsValid, endpoint.Result.ToString());
            Assert.Equal(body, endpoint.BodyReceived);
        }

        using (var response = await client.PostAsync(new Uri("https://127.0.0.1:8443/dip-channel/IF-021"),
            new ByteArrayContent(buffer, "garbage before".Length, body.Length)))
        {
            Assert.True(endpoint.Result!.IsValid, endpoint.Result.ToString());
            Assert.Equal(body, endpoint.BodyReceived);
        }
    }

    [Fact]
    public async Task A_streamed_body_that_can_be_read_only_once_is_buffered_so_the_bytes_signed_are_the_bytes_sent()
    {
        var endpoint = new VerifyingEndpoint(new DipSignatureVerifier(), certificates);
        using var client = new HttpClient(new DipSigningHandler(new DipRequestSigner(certificates.Supplier), endpoint));
        const string body = """[{"payload":{"CommonBlock":{},"CustomBlock":{}}}]""";

        using var response = await client.PostAsync(new Uri("https://127.0.0.1:8443/dip-channel/IF-021"),
            new StreamContent(new ForwardOnlyStream(Encoding.UTF8.GetBytes(body))));

        Assert.True(endpoint.Result!.IsValid, endpoint.Result.ToString());
        Assert.Equal(body, endpoint.BodyReceived);
    }

    /// <summary>A stream that can be read once, front to back, as a network or pipe stream can.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
