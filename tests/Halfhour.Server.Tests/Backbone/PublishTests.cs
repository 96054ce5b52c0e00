using System.Net;
using System.Text.Json;
using Halfhour.Client.Contract;

namespace Halfhour.Server.Tests.Backbone;

public sealed class PublishTests : IAsyncLifetime
{
    private BackboneServer _server = null!;

    public async Task InitializeAsync() => _server = await BackboneServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_consumption_message_is_accepted_with_a_transaction_id_and_readyz_says_ready()
    {
        var sender = _server.SenderOf(1);
        using var client = _server.ClientOf(sender);
        using var ready = await client.GetAsync(new Uri("/readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);

        using var response = await client.PostAsync(new Uri("/dip-channel/IF-021", UriKind.Relative), BackboneServer.Json(_server.Batch(1)));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        var answer = JsonSerializer.Deserialize<StandardResponse>(body)!;
        var only = Assert.Single(answer.MessageArray);
        Assert.Equal("MSG0000 - Success", only.Message);
        Assert.NotNull(only.TransactionId);
        Assert.Equal(sender, only.SenderId);
    }

    [Fact]
    public async Task A_batch_whose_third_message_is_malformed_is_refused_whole_and_its_valid_messages_are_new_when_sent_again()
    {
        var sender = _server.SenderOf(1);
        var numbers = Enumerable.Range(1, 200).Select(n => (long)n).Where(n => _server.SenderOf(n) == sender).Take(3).ToArray();
        using var client = _server.ClientOf(sender);
        var valid = _server.Batch(numbers);
        var text = System.Text.Encoding.UTF8.GetString(valid);
        var third = text.IndexOf("{\"payload\"", text.IndexOf("{\"payload\"", text.IndexOf("{\"payload\"", StringComparison.Ordinal) + 1, StringComparison.Ordinal) + 1, StringComparison.Ordinal);
        var malformed = text[..third] + text[third..].Replace("\"v\":\"", "\"v\":x\"", StringComparison.Ordinal);

        using var refused = await client.PostAsync(new Uri("/dip-channel/IF-021", UriKind.Relative), BackboneServer.Json(System.Text.Encoding.UTF8.GetBytes(malformed)));
        var detail = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.BadRequest, "malformed-batch");
        Assert.Contains("not well-formed JSON", detail, StringComparison.Ordinal);

        // Nothing of the refused batch was stored or reserved: the same messages are new, not duplicates.
        using var accepted = await client.PostAsync(new Uri("/dip-channel/IF-021", UriKind.Relative), BackboneServer.Json(valid));
        var body = await accepted.Content.ReadAsStringAsync();
        Assert.True(accepted.StatusCode == HttpStatusCode.Created, body);
        var answer = JsonSerializer.Deserialize<StandardResponse>(body)!;
        Assert.Equal(3, answer.MessageArray.Count);
        Assert.All(answer.MessageArray, m => Assert.Equal("MSG0000 - Success", m.Message));
    }

    [Fact]
    public async Task A_batch_with_a_refused_message_is_answered_207_with_each_messages_own_result()
    {
        var sender = _server.SenderOf(1);
        var numbers = Enumerable.Range(1, 200).Select(n => (long)n).Where(n => _server.SenderOf(n) == sender).Take(3).ToArray();
        using var client = _server.ClientOf(sender);
        var text = System.Text.Encoding.UTF8.GetString(_server.Batch(numbers));
        var second = text.IndexOf("{\"payload\"", text.IndexOf("{\"payload\"", StringComparison.Ordinal) + 1, StringComparison.Ordinal);
        var third = text.IndexOf("{\"payload\"", second + 1, StringComparison.Ordinal);
        var batch = text[..second] + text[second..third].Replace("\"v\":\"", "\"v\":\"x", StringComparison.Ordinal) + text[third..];

        using var response = await client.PostAsync(new Uri("/dip-channel/IF-021", UriKind.Relative), BackboneServer.Json(System.Text.Encoding.UTF8.GetBytes(batch)));
        var body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.MultiStatus, body);
        var answer = JsonSerializer.Deserialize<StandardResponse>(body)!;
        Assert.Equal(["MSG0000 - Success", "MSG1001 - Schema Failure", "MSG0000 - Success"], answer.MessageArray.Select(m => m.Message));
        Assert.Contains("schema:pattern", answer.MessageArray[1].Help, StringComparison.Ordinal);
    }
}
