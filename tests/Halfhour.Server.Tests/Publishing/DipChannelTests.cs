using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Halfhour.Client.Signing;
using Halfhour.Market.Participants;

namespace Halfhour.Server.Tests.Publishing;

/// <summary>A clock running a fixed offset from real time, to sign with dates outside the skew window.</summary>
internal sealed class ShiftedClock(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
}

[Collection(ServerCollection.Name)]
public sealed class DipChannelTests(ServerFixture server) : IDisposable
{
    private const string OneMessage = """[{"payload":{"CommonBlock":{"S0":{"interfaceID":"IF-021"}},"CustomBlock":{}}}]""";
    private readonly List<IDisposable> _disposables = [];

    public void Dispose()
    {
        foreach (var d in _disposables) d.Dispose();
    }

    private HttpClient ClientOf(Role role)
    {
        var client = server.Client(server.Main, server.CertificateOf(role));
        _disposables.Add(client);
        return client;
    }

    private Uri Channel(string id = "IF-021") => new(server.Main.BaseAddress, "/dip-channel/" + id);

    // Signs `signedBody` as `signer` (default: the role's own key), lets the test alter the headers, sends `sentBody`.
    private async Task<HttpResponseMessage> SendAsync(Role role, string signedBody, string? sentBody = null,
        Func<DipSignatureHeaders, DipSignatureHeaders>? alter = null, DipRequestSigner? signer = null, string channel = "IF-021",
        string contentType = "application/json", bool expectContinue = false)
    {
        var url = Channel(channel);
        var headers = (signer ?? new DipRequestSigner(server.CertificateOf(role))).Sign("POST", url, Encoding.UTF8.GetBytes(signedBody));
        headers = alter?.Invoke(headers) ?? headers;
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(sentBody ?? signedBody));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        request.Headers.ExpectContinue = expectContinue;
        foreach (var (name, value) in headers.AsPairs()) request.Headers.TryAddWithoutValidation(name, value);
        var response = await ClientOf(role).SendAsync(request);
        _disposables.Add(response);
        return response;
    }

    [Fact]
    public async Task A_signed_batch_from_an_identified_participant_reaches_the_publish_handler_and_its_results_are_answered()
    {
        using var client = server.SigningClient(Role.SDS);

        using var response = await client.PostAsync(new Uri("/dip-channel/IF-021", UriKind.Relative), ServerFixture.Json(OneMessage));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var result = Assert.Single(json.RootElement.GetProperty("messageArray").EnumerateArray());
        Assert.Equal("MSG0000 - Success", result.GetProperty("message").GetString());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("help").ValueKind);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", json.RootElement.GetProperty("timestamp").GetString());
        Assert.Equal(server.Participant(Role.SDS).Participant.DipId, server.Publisher.Last!.Sender.Participant.DipId);
        Assert.Equal("IF-021", server.Publisher.Last.ChannelId);
        Assert.Equal(1, server.Publisher.Last.MessageCount);
        Assert.Equal(OneMessage, server.Publisher.LastBody);
    }

    [Fact]
    public async Task A_body_changed_after_signing_is_refused_with_401_content_hash_mismatch()
    {
        var response = await SendAsync(Role.SUP, OneMessage, sentBody: OneMessage.Replace("IF-021", "IF-022", StringComparison.Ordinal));

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "content-hash-mismatch");
        Assert.Contains("X-DIP-Content-Hash", detail, StringComparison.Ordinal);
        Assert.Equal("DIP-Signature", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
    }

    [Fact]
    public async Task A_content_hash_replaced_to_match_a_changed_body_is_refused_with_401_signature_mismatch()
    {
        const string changed = """[{"payload":{}}]""";

        var response = await SendAsync(Role.SUP, OneMessage, sentBody: changed,
            alter: h => h with { ContentHash = StringToSign.ContentHash(Encoding.UTF8.GetBytes(changed)) });

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "signature-mismatch");
    }

    [Fact]
    public async Task A_message_signed_with_another_participants_certificate_is_refused_with_401()
    {
        var response = await SendAsync(Role.SUP, OneMessage, signer: new DipRequestSigner(server.CertificateOf(Role.LDSO)));

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "certificate-not-registered");
        Assert.Contains("not registered to this participant", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_signature_dated_before_the_skew_window_is_refused_with_401()
    {
        var stale = new DipRequestSigner(server.CertificateOf(Role.SUP), new ShiftedClock(TimeSpan.FromMinutes(-10)));

        var response = await SendAsync(Role.SUP, OneMessage, signer: stale);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "signature-date-too-old");
    }

    [Fact]
    public async Task A_signature_dated_after_the_skew_window_is_refused_with_401()
    {
        var future = new DipRequestSigner(server.CertificateOf(Role.SUP), new ShiftedClock(TimeSpan.FromMinutes(10)));

        var response = await SendAsync(Role.SUP, OneMessage, signer: future);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "signature-date-in-future");
    }

    [Fact]
    public async Task A_request_sent_again_with_the_same_signature_is_refused_with_401_as_a_replay()
    {
        var headers = new DipRequestSigner(server.CertificateOf(Role.SUP)).Sign("POST", Channel(), Encoding.UTF8.GetBytes(OneMessage));

        var first = await SendAsync(Role.SUP, OneMessage, alter: _ => headers);
        var second = await SendAsync(Role.SUP, OneMessage, alter: _ => headers);

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        await ProblemAssert.IsProblemAsync(second, HttpStatusCode.Unauthorized, "signature-replayed");
    }

    [Fact]
    public async Task A_request_without_signature_headers_is_refused_with_401_naming_the_missing_header()
    {
        var response = await SendAsync(Role.SUP, OneMessage, alter: h => h with { Signature = null });

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "missing-signature-header");
        Assert.Contains("X-DIP-Signature", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_malformed_signature_date_is_refused_with_401_naming_the_header()
    {
        var response = await SendAsync(Role.SUP, OneMessage, alter: h => h with { SignatureDate = "last Tuesday" });

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, "malformed-signature-header");
        Assert.Contains("X-DIP-Signature-Date", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_refused_with_413()
    {
        var large = "[" + new string(' ', ServerFixture.MaxBodyBytes) + "{}]";

        // Expect: 100-continue, as a sender of a large body should: the server refuses on the declared length before
        // any of the body is sent, instead of closing the connection under a client still writing.
        var response = await SendAsync(Role.SUP, large, expectContinue: true);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body-too-large");
    }

    [Fact]
    public async Task A_streamed_body_over_the_size_limit_is_refused_with_413_without_a_declared_length()
    {
        var client = ClientOf(Role.SUP);
        var content = new StreamContent(new MemoryStream(new byte[ServerFixture.MaxBodyBytes + 1]));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, Channel()) { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using var response = await client.SendAsync(request);

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "body-too-large");
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_refused_with_415()
    {
        var response = await SendAsync(Role.SUP, "<messages/>", contentType: "application/xml");

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
        Assert.Contains("application/xml", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""[{"payload":""", "not well-formed JSON")]
    [InlineData("""{"payload":{}}""", "not an array")]
    [InlineData("[]", "at least one message")]
    [InlineData("""[{"payload":{}}] trailing""", "not well-formed JSON")]
    public async Task A_body_that_is_not_a_json_array_of_messages_is_refused_with_400(string body, string explanation)
    {
        var response = await SendAsync(Role.SUP, body);

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "malformed-batch");
        Assert.Contains(explanation, detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_nested_deeper_than_the_limit_is_refused_with_400()
    {
        var deep = "[" + string.Concat(Enumerable.Repeat("{\"a\":", ServerFixture.MaxDepth)) + "1" + new string('}', ServerFixture.MaxDepth) + "]";

        var response = await SendAsync(Role.SUP, deep);

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, "malformed-batch");
        Assert.Contains("depth", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batch_with_more_messages_than_the_limit_is_refused_with_413()
    {
        var batch = "[" + string.Join(",", Enumerable.Repeat("""{"payload":{}}""", ServerFixture.MaxMessages + 1)) + "]";

        var response = await SendAsync(Role.SUP, batch);

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "too-many-messages");
        Assert.Contains($"at most {ServerFixture.MaxMessages}", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batch_at_the_message_limit_is_accepted()
    {
        var batch = "[" + string.Join(",", Enumerable.Repeat("""{"payload":{}}""", ServerFixture.MaxMessages)) + "]";

        var response = await SendAsync(Role.SUP, batch);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task A_channel_that_is_not_an_interface_id_is_answered_404()
    {
        var response = await SendAsync(Role.SUP, OneMessage, channel: "IF-21x");

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound, "unknown-channel");
    }

    [Fact]
    public async Task A_failure_inside_the_publish_pipeline_is_answered_500_problem_details_with_a_trace_id()
    {
        var response = await SendAsync(Role.SUP, OneMessage, channel: RecordingPublishHandler.ThrowingChannel);

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.InternalServerError, "internal-error");
        Assert.Contains("Quote trace", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("fell over", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_get_on_a_channel_is_answered_405_problem_details()
    {
        using var response = await ClientOf(Role.SUP).GetAsync(Channel());

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.MethodNotAllowed, "method-not-allowed");
    }

    [Fact]
    public async Task An_unknown_path_is_answered_404_problem_details()
    {
        using var response = await ClientOf(Role.SUP).GetAsync(new Uri(server.Main.BaseAddress, "/no/such/thing"));

        var detail = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound, "not-found");
        Assert.Contains("/dip-channel/", detail, StringComparison.Ordinal);
    }
}
