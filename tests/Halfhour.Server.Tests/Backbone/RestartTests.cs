using System.Net;
using Microsoft.AspNetCore.Http;

namespace Halfhour.Server.Tests.Backbone;

public sealed class RestartTests : IAsyncLifetime
{
    private BackboneServer _server = null!;

    public async Task InitializeAsync() => _server = await BackboneServer.StartAsync(new()
    {
        ["Halfhour:Backbone:WebhookInitialBackoff"] = "00:00:00.100",
        ["Halfhour:Backbone:WebhookMaxBackoff"] = "00:00:00.300",
    });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_restart_on_the_same_data_directory_keeps_acknowledgements_and_delivers_what_was_not_yet_delivered()
    {
        long[] numbers = [701, 702, 703];
        var distributor = _server.Roster.DistributorOf(_server.Builder.MpanOf(numbers[0]));
        var routedToDistributor = numbers.Where(n => _server.Roster.DistributorOf(_server.Builder.MpanOf(n)) == distributor).ToArray();
        await using var receiver = await WebhookReceiver.StartAsync(_server.Server.Sandbox.BackboneCertificate);
        var down = true;
        receiver.Behaviour = (_, _) => Task.FromResult(Volatile.Read(ref down) ? Results.StatusCode(StatusCodes.Status503ServiceUnavailable) : null);
        using (var client = _server.ClientOf(distributor))
        using (var configured = await PushTests.ConfigureAsync(client, distributor, new { callbackURL = receiver.Url.ToString() }))
        {
            Assert.Equal(HttpStatusCode.Created, configured.StatusCode);
        }

        var published = await _server.PublishAsync(0, numbers);
        var lss = _server.Roster.LoadShaping;
        string unacknowledged;
        using (var client = _server.ClientOf(lss))
        {
            var fetched = (await PullTests.FetchAsync(client, wait: 5)).Select(m => m!.DeepClone()).ToList();
            for (var i = 0; fetched.Count < 3 && i < 10; i++) fetched.AddRange((await PullTests.FetchAsync(client, wait: 2)).Select(m => m!.DeepClone()));
            // Order is kept per MPAN; these are three MPANs, so only the set is certain.
            Assert.Equal(published.Order(), fetched.Select(m => m["transactionID"]!.GetValue<string>()).Order());
            unacknowledged = fetched[2]["transactionID"]!.GetValue<string>();
            Assert.Equal(2, await PullTests.AckAsync(client, fetched.Take(2).Select(m => m["receipt"]!.GetValue<string>())));
        }

        Assert.True(receiver.Attempts > 0 || routedToDistributor.Length == 0);
        Assert.Empty(receiver.Taken);
        await _server.RestartAsync();
        Volatile.Write(ref down, false);

        using (var client = _server.ClientOf(lss))
        {
            var again = Assert.Single(await PullTests.FetchAsync(client, wait: 5));
            Assert.Equal(unacknowledged, again!["transactionID"]!.GetValue<string>());
            Assert.Equal(1, await PullTests.AckAsync(client, [again["receipt"]!.GetValue<string>()]));
        }

        var expected = published.Where((_, i) => routedToDistributor.Contains(numbers[i])).ToList();
        await receiver.WaitForAsync(expected, TimeSpan.FromSeconds(20));
        Assert.Equal(0, receiver.BadSignatures);

        // A retry of the same sender unique reference after the restart is still a duplicate: the same transaction ID, nothing new delivered.
        var retried = await _server.PublishAsync(0, numbers[0]);
        Assert.Equal(published[0], retried[0]);
    }
}
