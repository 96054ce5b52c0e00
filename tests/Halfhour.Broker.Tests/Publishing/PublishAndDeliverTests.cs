using System.Text;
using System.Text.Json.Nodes;
using Halfhour.Broker.Replay;
using Halfhour.Broker.Storage;
using Halfhour.Broker.Tests.Support;
using Halfhour.Market.Validation;

namespace Halfhour.Broker.Tests.Publishing;

public abstract class PublishAndDeliverTests(EngineKind engine)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task An_accepted_batch_gets_transaction_ids_and_reaches_every_recipient_with_D0_stamped()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var numbers = FromOneSender(f, 5);
        var sender = f.SenderOf(numbers[0]);

        var result = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers));

        Assert.Equal(201, result.StatusCode);
        Assert.All(result.Messages, m => Assert.Equal(MessageCode.Success, m.Code));
        Assert.Equal(numbers.Length, result.Messages.Select(m => m.TransactionId).Distinct().Count());

        foreach (var recipient in new[] { f.Roster.LoadShaping, f.Roster.MarketWideData })
        {
            var subscription = f.Backbone.Subscription(BrokerFixture.Environment, recipient, "IF-021");
            var got = await FetchAllAsync(subscription, numbers.Length);
            // Order is promised per MPAN (per partition), not across the batch.
            Assert.Equal(result.Messages.Select(m => m.TransactionId).Order(), got.Select(d => d.TransactionId).Order());
            var d0 = JsonNode.Parse(got[0].Message)!["payload"]!["CommonBlock"]!["D0"]!;
            Assert.Equal(got[0].TransactionId, (string?)d0["transactionID"]);
            Assert.Equal("PUB-021", (string?)d0["publicationID"]);
            Assert.False((bool)d0["replayIndicator"]!);
        }
    }

    [Fact]
    public async Task A_batch_whose_topic_the_store_cannot_make_now_is_answered_storage_unavailable_and_its_retry_is_accepted()
    {
        // A shared store's meta layer busy or electing: making (or confirming) the interface topic gets no answer.
        UnansweredTopics? store = null;
        await using var f = await BrokerFixture.StartAsync(engine, wrap: inner => store = new UnansweredTopics(inner));
        var numbers = FromOneSender(f, 3);
        var sender = f.SenderOf(numbers[0]);
        store!.Unanswered = 1;

        var refused = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers));
        Assert.All(refused.Messages, m => Assert.Equal(MessageCode.StorageUnavailable, m.Code));
        Assert.Equal(0, store.Unanswered);

        // Nothing was stored and no reference kept: the sender's retry is accepted as new, and delivered once.
        var retried = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers));
        Assert.All(retried.Messages, m => Assert.Equal(MessageCode.Success, m.Code));
        var got = await FetchAllAsync(f.Backbone.Subscription(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021"), numbers.Length);
        Assert.Equal(retried.Messages.Select(m => m.TransactionId).Order(), got.Select(d => d.TransactionId).Order());
    }

    private sealed class UnansweredTopics(IEventStore inner) : DelegatingEventStore(inner)
    {
        public int Unanswered { get; set; }

        public override ValueTask EnsureTopicAsync(TopicSpec spec, CancellationToken cancellationToken = default)
        {
            if (spec.Name.EndsWith(".IF-021", StringComparison.Ordinal) && Unanswered > 0)
            {
                Unanswered--;
                throw new IOException($"No answer making {spec.Name}.");
            }

            return base.EnsureTopicAsync(spec, cancellationToken);
        }
    }

    [Fact]
    public async Task Stopping_a_backbone_twice_is_harmless()
    {
        // A host stopping on SIGTERM and then disposed stops its backbone twice; the second must not throw.
        var f = await BrokerFixture.StartAsync(engine);
        await f.Backbone.DisposeAsync();
        await f.Backbone.DisposeAsync();
        await f.DisposeAsync();
    }

    [Fact]
    public async Task A_recipient_receives_only_what_is_routed_to_it()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var numbers = FromOneSender(f, 12);
        var sender = f.SenderOf(numbers[0]);
        await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers));

        var supplier = f.Roster.SupplierOf(f.Builder.MpanOf(numbers[0]));
        var expected = numbers.Where(n => f.Roster.SupplierOf(f.Builder.MpanOf(n)) == supplier).Select(n => f.Builder.MpanOf(n).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var got = await FetchAllAsync(f.Backbone.Subscription(BrokerFixture.Environment, supplier, "IF-021"), expected.Count);
        Assert.Equal(expected.Order(), got.Select(d => d.Mpan).Order());

        // And nothing more arrives for it.
        Assert.Empty(await f.Backbone.Subscription(BrokerFixture.Environment, supplier, "IF-021").FetchAsync(10, TimeSpan.FromMilliseconds(300), CancellationToken.None));
    }

    [Fact]
    public async Task A_retry_with_the_same_sender_unique_reference_returns_the_original_transaction_id_even_after_a_restart()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var numbers = FromOneSender(f, 2);
        var sender = f.SenderOf(numbers[0]);
        var first = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers));

        var retry = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers));
        Assert.All(retry.Messages, m => Assert.Equal(MessageCode.Duplicate, m.Code));
        Assert.Equal(first.Messages.Select(m => m.TransactionId), retry.Messages.Select(m => m.TransactionId));
        Assert.Equal(201, retry.StatusCode);

        await f.RestartAsync();
        var afterRestart = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers));
        Assert.Equal(first.Messages.Select(m => m.TransactionId), afterRestart.Messages.Select(m => m.TransactionId));

        // The recipient sees each message once.
        var got = await FetchAllAsync(f.Backbone.Subscription(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021"), 2);
        Assert.Equal(2, got.Count);
        Assert.Empty(await f.Backbone.Subscription(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021").FetchAsync(10, TimeSpan.FromMilliseconds(300), CancellationToken.None));
    }

    [Fact]
    public async Task The_same_reference_twice_in_one_batch_is_stored_once()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var n = FromOneSender(f, 1)[0];
        var message = f.Builder.Build(n);
        var result = await f.Backbone.Publisher.PublishAsync(f.SenderOf(n), "IF-021", BrokerFixture.Array(message, message));
        Assert.Equal([MessageCode.Success, MessageCode.Duplicate], result.Messages.Select(m => m.Code));
        Assert.Equal(result.Messages[0].TransactionId, result.Messages[1].TransactionId);
    }

    [Fact]
    public async Task A_batch_with_an_invalid_message_is_partly_accepted_with_the_failure_explained()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var numbers = FromOneSender(f, 2);
        var bad = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(f.Builder.Build(numbers[1])).Replace("\"periodDuration\":30", "\"periodDuration\":15", StringComparison.Ordinal));
        var result = await f.Backbone.Publisher.PublishAsync(f.SenderOf(numbers[0]), "IF-021", BrokerFixture.Array(f.Builder.Build(numbers[0]), bad));

        Assert.Equal(207, result.StatusCode);
        Assert.Equal(MessageCode.Success, result.Messages[0].Code);
        Assert.False(result.Messages[1].IsAccepted);
        Assert.NotNull(result.Messages[1].Failure!.Pointer);
        Assert.Null(result.Messages[1].TransactionId);
    }

    [Fact]
    public async Task A_message_from_another_sender_than_the_caller_is_refused_and_nothing_is_stored()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var n = FromOneSender(f, 1)[0];
        var impostor = f.Participant(f.Roster.DataServices.First(d => d != f.SenderOf(n).DipId));
        var result = await f.Backbone.Publisher.PublishAsync(impostor, "IF-021", f.Batch(n));
        Assert.Equal(400, result.StatusCode);
        Assert.Equal(MessageCode.SenderMismatch, result.Messages[0].Code);
        Assert.Empty(await f.Backbone.Subscription(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021").FetchAsync(10, TimeSpan.FromMilliseconds(300), CancellationToken.None));
    }

    [Fact]
    public async Task Messages_of_one_MPAN_reach_a_recipient_in_the_order_they_were_accepted()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var n = FromOneSender(f, 1)[0];
        var sender = f.SenderOf(n);
        var expected = new List<string>();
        for (var day = 0; day < 5; day++)
        {
            // Same MPAN, another settlement day each time: distinct references, one metering point.
            var builder = new Halfhour.Market.Consumption.ConsumptionMessageBuilder(
                new Halfhour.Market.Consumption.ConsumptionMessageOptions { Environment = BrokerFixture.Environment, MeteringPoints = 5_000, Seed = 7, FirstSettlementDay = new DateOnly(2026, 3, 1).AddDays(day) }, f.Roster);
            var result = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", BrokerFixture.Array(builder.Build(n)));
            Assert.Equal(201, result.StatusCode);
            expected.Add(result.Messages[0].TransactionId!);
        }

        var got = await FetchAllAsync(f.Backbone.Subscription(BrokerFixture.Environment, f.Roster.MarketWideData, "IF-021"), expected.Count);
        Assert.Equal(expected, got.Select(d => d.TransactionId));
    }

    [Fact]
    public async Task An_unacknowledged_message_comes_back_after_the_visibility_timeout_and_an_acknowledged_one_never()
    {
        await using var f = await BrokerFixture.StartAsync(engine, new BackboneOptions { VisibilityTimeout = TimeSpan.FromMilliseconds(300) });
        var numbers = FromOneSender(f, 2);
        await f.Backbone.Publisher.PublishAsync(f.SenderOf(numbers[0]), "IF-021", f.Batch(numbers));
        var subscription = f.Backbone.Subscription(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021");

        var first = await FetchAllAsync(subscription, 2);
        Assert.Equal(1, await subscription.AckAsync([first[0].Receipt], CancellationToken.None));

        var again = await subscription.FetchAsync(10, TimeSpan.FromSeconds(5), CancellationToken.None);
        var redelivered = Assert.Single(again);
        Assert.Equal(first[1].TransactionId, redelivered.TransactionId);
        Assert.Equal(2, redelivered.DeliveryCount);
    }

    [Fact]
    public async Task Acknowledgements_survive_a_restart_and_unacknowledged_messages_are_delivered_again()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var numbers = FromOneSender(f, 3);
        await f.Backbone.Publisher.PublishAsync(f.SenderOf(numbers[0]), "IF-021", f.Batch(numbers));
        var got = await FetchAllAsync(f.Backbone.Subscription(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021"), 3);
        await f.Backbone.Subscription(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021").AckAsync([got[0].Receipt, got[1].Receipt], CancellationToken.None);

        await f.RestartAsync();
        var after = await FetchAllAsync(f.Backbone.Subscription(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021"), 1);
        Assert.Equal(got[2].TransactionId, Assert.Single(after).TransactionId);
    }

    [Fact]
    public async Task Replay_returns_only_the_recipients_messages_marked_as_replayed_in_pages()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var numbers = FromOneSender(f, 7);
        var published = await f.Backbone.Publisher.PublishAsync(f.SenderOf(numbers[0]), "IF-021", f.Batch(numbers));
        await f.Backbone.Indexer.WaitUntilCaughtUpAsync(CancellationToken.None);

        var query = new ReplayQuery(null, null, null, null, null);
        var ids = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await f.Backbone.Replays.ReplayAsync(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021", query, token, pageSize: 3, CancellationToken.None);
            pages++;
            foreach (var message in page.Messages)
            {
                var d0 = JsonNode.Parse(message)!["payload"]!["CommonBlock"]!["D0"]!;
                Assert.True((bool)d0["replayIndicator"]!);
                ids.Add((string)d0["transactionID"]!);
            }

            token = page.ContinuationToken;
        }
        while (token is not null);

        Assert.True(pages >= 3);
        Assert.Equal(published.Messages.Select(m => m.TransactionId).Order(), ids.Order());

        // By MPAN: just that one.
        var mpan = f.Builder.MpanOf(numbers[2]).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var one = await f.Backbone.Replays.ReplayAsync(BrokerFixture.Environment, f.Roster.LoadShaping, "IF-021", query with { Mpan = mpan }, null, 100, CancellationToken.None);
        Assert.Single(one.Messages);

        // Another recipient's view never includes what was not routed to it.
        var stranger = f.Roster.Suppliers.First(s => numbers.All(n => f.Roster.SupplierOf(f.Builder.MpanOf(n)) != s));
        var none = await f.Backbone.Replays.ReplayAsync(BrokerFixture.Environment, stranger, "IF-021", query with { TransactionIds = [.. published.Messages.Select(m => m.TransactionId!)] }, null, 100, CancellationToken.None);
        Assert.Empty(none.Messages);
    }

    [Fact]
    public async Task Every_publish_is_in_the_audit_trail()
    {
        await using var f = await BrokerFixture.StartAsync(engine);
        var numbers = FromOneSender(f, 2);
        var sender = f.SenderOf(numbers[0]);
        await f.Backbone.Publisher.PublishAsync(sender, "IF-021", f.Batch(numbers));
        var (entries, _) = await f.Backbone.Audit.ReadAsync(0, 1 << 20);
        var entry = Assert.Single(entries);
        Assert.Equal(Audit.AuditAction.Published, entry.Action);
        Assert.Equal(sender.DipId, entry.Actor);
        Assert.Equal("IF-021", entry.Subject);
    }

    /// <summary>MPAN numbers whose consumption the same data service sends (one caller per batch).</summary>
    internal static long[] FromOneSender(BrokerFixture f, int count)
    {
        var sender = f.SenderOf(0).DipId;
        var numbers = new List<long>();
        for (long n = 0; numbers.Count < count; n++)
        {
            if (f.SenderOf(n).DipId == sender)
            {
                numbers.Add(n);
            }
        }

        return [.. numbers];
    }

    internal static async Task<List<Halfhour.Broker.Delivery.Delivery>> FetchAllAsync(Halfhour.Broker.Delivery.RecipientSubscription subscription, int count)
    {
        var got = new List<Halfhour.Broker.Delivery.Delivery>();
        using var timeout = new CancellationTokenSource(Wait);
        while (got.Count < count)
        {
            var batch = await subscription.FetchAsync(count - got.Count, TimeSpan.FromSeconds(2), timeout.Token);
            got.AddRange(batch);
        }

        return got;
    }
}

public sealed class PublishAndDeliverTestsOnEmbedded() : PublishAndDeliverTests(EngineKind.Embedded);

public sealed class PublishAndDeliverTestsOnJetStream() : PublishAndDeliverTests(EngineKind.JetStream);
