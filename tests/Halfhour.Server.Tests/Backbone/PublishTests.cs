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
}
