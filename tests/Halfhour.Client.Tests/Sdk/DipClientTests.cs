using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Halfhour.Client.Messages;
using Halfhour.Client.Transport;
using Halfhour.Market.Participants;
using Halfhour.Server.Tests.Backbone;

namespace Halfhour.Client.Tests.Sdk;

/// <summary>The SDK's sending and pulling against a real backbone on loopback, over mutual TLS with signed requests.</summary>
[Collection(SdkCollection.Name)]
public sealed class DipClientTests(SdkServerFixture fixture)
{
    private BackboneServer Server => fixture.Server;

    [Fact]
    public async Task A_typed_consumption_message_is_accepted_and_the_pull_loop_hands_it_to_the_supplier_and_acknowledges_it()
    {
        const long number = 11;
        var mpan = Server.Builder.MpanOf(number);
        using var supplier = await fixture.DrainedSupplierOfAsync(mpan);
        using var sender = fixture.DataServiceFor(number);

        var result = await sender.SendAsync(fixture.ConsumptionFor(number));

        Assert.True(result.Accepted, $"{result.Text}: {result.Help}");
        Assert.False(result.Duplicate);
        Assert.Equal(MessageResult.SuccessCode, result.Code);
        Assert.NotNull(result.TransactionId);
        var handled = new List<ReceivedMessage>();
        var count = await supplier.ConsumeAsync("IF-021", (m, _) =>
        {
            handled.Add(m);
            return Task.CompletedTask;
        }, new ConsumeOptions { Wait = TimeSpan.FromSeconds(5) }, new CancellationTokenSource(TimeSpan.FromSeconds(3)).Token);
        var received = Assert.Single(handled);
        Assert.Equal(1, count);
        Assert.Equal(result.TransactionId, received.TransactionId);
        Assert.Equal(result.TransactionId, received.Message.TransactionId);
        Assert.Equal(mpan.ToString(System.Globalization.CultureInfo.InvariantCulture), received.Message.Mpan);
        Assert.Equal("[ActivePower]", received.Message.EventCode);
        Assert.False(received.Message.IsReplay);
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // past the visibility timeout: an unacknowledged message would be back
        Assert.Empty(await supplier.FetchAsync("IF-021"));
    }

    [Fact]
    public async Task A_message_whose_handler_throws_is_not_acknowledged_and_comes_back()
    {
        const long number = 12;
        var mpan = Server.Builder.MpanOf(number);
        using var supplier = await fixture.DrainedSupplierOfAsync(mpan);
        using var sender = fixture.DataServiceFor(number);
        var sent = await sender.SendAsync(fixture.ConsumptionFor(number));
        Assert.True(sent.Accepted, sent.Help);

        var errors = new List<Exception>();
        var acknowledged = await supplier.ConsumeAsync("IF-021", (_, _) => throw new InvalidOperationException("the supplier's database is down"),
            new ConsumeOptions { Wait = TimeSpan.FromSeconds(5), OnHandlerError = (_, e) => errors.Add(e) }, new CancellationTokenSource(TimeSpan.FromSeconds(1.5)).Token);

        Assert.Equal(0, acknowledged);
        Assert.Single(errors);
        var again = Assert.Single(await supplier.FetchAsync("IF-021", wait: TimeSpan.FromSeconds(10)));
        Assert.Equal(sent.TransactionId, again.TransactionId);
        Assert.Equal(2, again.DeliveryCount);
        Assert.Equal(1, await supplier.AcknowledgeAsync("IF-021", [again.Receipt]));
    }

    [Fact]
    public async Task A_retry_after_a_lost_answer_resends_the_same_reference_and_returns_the_original_transaction_id()
    {
        const long number = 13;
        var mpan = Server.Builder.MpanOf(number);
        using var supplier = await fixture.DrainedSupplierOfAsync(mpan);
        using var lossy = new DipClient(fixture.OptionsOf(Server.SenderOf(number), Role.SDS), FaultyTransport.Wrap(out var transport, answersToLose: 1));
        var message = lossy.Build(fixture.ConsumptionFor(number));

        var retried = await lossy.SendAsync(message);

        Assert.Equal(2, transport().Requests); // the first answer was lost, so it was sent again
        Assert.True(retried.Accepted, retried.Help);
        Assert.True(retried.Duplicate, "the second attempt found the first one stored");
        Assert.Equal(message.SenderUniqueReference, retried.SenderUniqueReference);
        using var sender = fixture.DataServiceFor(number);
        var again = await sender.SendAsync(message);
        Assert.True(again.Duplicate);
        Assert.Equal(retried.TransactionId, again.TransactionId);
        var copies = await supplier.FetchAsync("IF-021", wait: TimeSpan.FromSeconds(5));
        Assert.Equal(retried.TransactionId, Assert.Single(copies).TransactionId); // stored once, delivered once
        await supplier.AcknowledgeAsync("IF-021", copies.Select(c => c.Receipt));
    }

    [Fact]
    public async Task Sends_are_split_into_batches_of_the_limit_with_one_result_per_message_in_order()
    {
        long[] numbers = [21, 23, 25, 27, 29, 31, 33];
        var senderId = Server.SenderOf(numbers[0]);
        var mine = Enumerable.Range(20, 400).Select(n => (long)n).Where(n => Server.SenderOf(n) == senderId).Take(7).ToArray();
        using var client = new DipClient(fixture.OptionsOf(senderId, Role.SDS) with { MaxBatchSize = 3 }, FaultyTransport.Wrap(out var transport));
        var messages = mine.Select(n => client.Build(fixture.ConsumptionFor(n, new DateOnly(2025, 3, 11)))).ToList();
        messages[4].CommonBlock["M0"]!["MPANCore"] = "1012345678900"; // wrong check digit

        var result = await client.SendAsync(messages);

        Assert.Equal(3, transport().Requests);
        Assert.Equal(7, result.Messages.Count);
        Assert.Equal(Enumerable.Range(0, 7), result.Messages.Select(m => m.Index));
        Assert.Equal(messages.Select(m => m.SenderUniqueReference), result.Messages.Select(m => m.SenderUniqueReference));
        var refused = Assert.Single(result.Refused);
        Assert.Equal(4, refused.Index);
        Assert.StartsWith("MSG10", refused.Code, StringComparison.Ordinal);
        Assert.Contains("MPAN", refused.Help ?? "", StringComparison.OrdinalIgnoreCase);
        Assert.Equal(6, result.Messages.Count(m => m.Accepted && m.TransactionId is not null));
    }

    [Fact]
    public async Task A_429_is_retried_after_its_Retry_After_and_a_503_at_once_with_back_off()
    {
        static HttpResponseMessage? Busy(int request) => request switch
        {
            1 => new HttpResponseMessage(HttpStatusCode.TooManyRequests) { Headers = { RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(1)) } },
            2 => new HttpResponseMessage(HttpStatusCode.ServiceUnavailable),
            _ => null,
        };
        var patient = SdkServerFixture.QuickRetries with { MaxDelay = TimeSpan.FromSeconds(5) };
        using var client = new DipClient(fixture.OptionsOf(Server.SenderOf(43), Role.SDS) with { Retry = patient }, FaultyTransport.Wrap(out var transport, answerInstead: Busy));

        var result = await client.SendAsync(fixture.ConsumptionFor(43));

        Assert.True(result.Accepted, result.Help);
        Assert.False(result.Duplicate); // the two refusals stored nothing
        var arrivals = transport().Arrivals;
        Assert.Equal(3, arrivals.Count);
        Assert.True(arrivals[1] - arrivals[0] >= TimeSpan.FromSeconds(0.95), $"retried {arrivals[1] - arrivals[0]} after a 429 asking for 1 s");
    }

    [Fact]
    public async Task A_refused_request_is_not_retried_and_says_why()
    {
        using var client = new DipClient(fixture.OptionsOf(Server.SenderOf(41), Role.SDS), FaultyTransport.Wrap(out var transport));

        var refused = await Assert.ThrowsAsync<DipRequestException>(() => client.SendRawAsync("IF-021", Encoding.UTF8.GetBytes("[]")));

        Assert.Equal(1, transport().Requests);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("malformed-batch", refused.Reason);
        Assert.Contains("refused sending to IF-021 with 400", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_backbone_is_retried_then_reported_with_how_to_start_one()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // a port nothing listens on
        using var client = new DipClient(fixture.OptionsOf(Server.SenderOf(42), Role.SDS) with { BaseAddress = new Uri($"https://127.0.0.1:{port}/") },
            FaultyTransport.Wrap(out var transport));

        var failure = await Assert.ThrowsAsync<DipRequestException>(() => client.SendAsync(fixture.ConsumptionFor(42)));

        Assert.Equal(SdkServerFixture.QuickRetries.MaxAttempts, transport().Requests);
        Assert.Null(failure.StatusCode);
        Assert.Contains("could not be reached", failure.Message, StringComparison.Ordinal);
        Assert.Contains("halfhour serve", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_typed_registration_and_appointment_builders_make_messages_the_backbone_accepts()
    {
        using var supplier = new DipClient(fixture.SandboxOptionsOf(Role.SUP));
        using var registration = new DipClient(fixture.SandboxOptionsOf(Role.REGS));
        var ldso = Server.Server.Sandbox.For(Role.LDSO).Participant;
        var sds = Server.Server.Sandbox.For(Role.SDS).Participant;
        var sup = Server.Server.Sandbox.For(Role.SUP).Participant;
        var point = new MeteringPoint("1012345678903", ldso.DipId, "_A");
        var dataService = new MarketParty(sds.DipId, sds.Mpid);
        var day = new DateOnly(2025, 4, 1);
        var proposal = new DataServiceProposal { Service = dataService, EffectiveFrom = day };

        var request = await supplier.SendAsync(new ServiceAppointmentRequest { Point = point, Proposal = proposal, Recipients = [registration.Options.DipId] });
        var response = await registration.SendAsync(new ServiceAppointmentInitialResponse { Point = point, Proposal = proposal, Recipients = [sup.DipId] });
        var active = await registration.SendAsync(new DataServiceAppointmentActive
        {
            Point = point, RequestingSupplier = new MarketParty(sup.DipId, sup.Mpid), DataService = dataService, EffectiveFrom = day, Recipients = [sup.DipId, sds.DipId],
        });
        var registered = await registration.SendAsync(new SupplierRegistration
        {
            Point = point, RegistrationId = "c0ffee00-0000-4000-8000-000000000001", IncomingSupplier = new MarketParty(sup.DipId, sup.Mpid), EffectiveFrom = day,
            Recipients = [sup.DipId],
        });
        var custom = await supplier.SendAsync(new CustomMessage("IF-031", "DSApp", point, new JsonObject
        {
            ["B071"] = JsonNode.Parse(supplier.Build(new ServiceAppointmentRequest { Point = point, Proposal = proposal }).CustomBlock!["B071"]!.ToJsonString()),
        })
        { Recipients = [registration.Options.DipId] });

        foreach (var (what, result) in new[] { ("IF-031", request), ("IF-032", response), ("IF-036", active), ("IF-001", registered), ("custom IF-031", custom) })
        {
            Assert.True(result.Accepted, $"{what}: {result.Text}: {result.Help}");
        }
    }

    [Fact]
    public async Task Requests_of_different_MPANs_go_in_parallel_up_to_the_limit_with_one_result_per_message_in_order()
    {
        var mine = NumbersOfOneSender(6000, count: 6);
        using var client = new DipClient(fixture.OptionsOf(Server.SenderOf(mine[0]), Role.SDS) with { MaxBatchSize = 1, MaxParallelRequests = 3 },
            FaultyTransport.Wrap(out var transport, holdUntilInFlight: 3));
        var messages = mine.Select(n => client.Build(fixture.ConsumptionFor(n, new DateOnly(2025, 3, 12)))).ToList();

        var result = await client.SendAsync(messages);

        Assert.True(result.AllAccepted, string.Join("; ", result.Refused.Select(r => r.Help)));
        Assert.Equal(messages.Select(m => m.SenderUniqueReference), result.Messages.Select(m => m.SenderUniqueReference));
        Assert.Equal(6, transport().Requests);
        Assert.Equal(3, transport().MaxInFlight); // three at once, never more
    }

    [Fact]
    public async Task Messages_of_one_MPAN_are_sent_one_request_after_another_and_stored_in_the_order_given()
    {
        var (a, b) = (NumbersOfOneSender(6500, count: 2)[0], NumbersOfOneSender(6500, count: 2)[1]);
        using var client = new DipClient(fixture.OptionsOf(Server.SenderOf(a), Role.SDS) with { MaxBatchSize = 1, MaxParallelRequests = 4 },
            FaultyTransport.Wrap(out var transport, holdUntilInFlight: 2));
        (long Number, DateOnly Day)[] order = [(a, new(2025, 3, 13)), (b, new(2025, 3, 13)), (a, new(2025, 3, 14)), (a, new(2025, 3, 15)), (b, new(2025, 3, 14))];
        var messages = order.Select(o => client.Build(fixture.ConsumptionFor(o.Number, o.Day))).ToList();

        var result = await client.SendAsync(messages);

        Assert.True(result.AllAccepted, string.Join("; ", result.Refused.Select(r => r.Help)));
        Assert.True(transport().MaxInFlight >= 2, "the two MPANs' first messages went together");
        foreach (var number in new[] { a, b })
        {
            var mpan = Server.Builder.MpanOf(number).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var ofMpan = Enumerable.Range(0, order.Length).Where(i => order[i].Number == number).ToList();
            var events = transport().Publishes.Where(p => p.Body.Contains(mpan, StringComparison.Ordinal)).Select(p => p.Event).ToList();
            Assert.Equal(Enumerable.Repeat<string[]>(["start", "end"], ofMpan.Count).SelectMany(e => e), events); // each request done before the next started
            AssertStoredInOrder(result, ofMpan);
        }
    }

    [Fact]
    public async Task Messages_of_one_MPAN_in_one_request_and_the_next_are_stored_in_the_order_given()
    {
        var (a, b) = (NumbersOfOneSender(6700, count: 2)[0], NumbersOfOneSender(6700, count: 2)[1]);
        using var client = new DipClient(fixture.OptionsOf(Server.SenderOf(a), Role.SDS) with { MaxBatchSize = 2, MaxParallelRequests = 4 }, FaultyTransport.Wrap(out var transport));
        (long Number, DateOnly Day)[] order = [(a, new(2025, 3, 16)), (a, new(2025, 3, 17)), (a, new(2025, 3, 18)), (b, new(2025, 3, 16))];

        var result = await client.SendAsync([.. order.Select(o => client.Build(fixture.ConsumptionFor(o.Number, o.Day)))]);

        Assert.True(result.AllAccepted, string.Join("; ", result.Refused.Select(r => r.Help)));
        Assert.Equal(2, transport().Requests);
        Assert.Equal(1, transport().MaxInFlight); // the second request holds the MPAN of the first, so it waited
        AssertStoredInOrder(result, [0, 1, 2]);
    }

    /// <summary>The messages at <paramref name="indexes"/> were stored in one partition, in that order.</summary>
    private static void AssertStoredInOrder(SendResult result, IReadOnlyList<int> indexes)
    {
        var stored = indexes.Select(i => result.Messages[i].TransactionId!).Select(t => (Partition: t[^16..^13], Offset: long.Parse(t[^13..], System.Globalization.CultureInfo.InvariantCulture))).ToList();
        Assert.Single(stored.Select(s => s.Partition).Distinct());
        Assert.Equal(stored.Select(s => s.Offset).Order(), stored.Select(s => s.Offset)); // stored in the order given
    }

    [Fact]
    public async Task The_typed_consideration_response_and_status_builders_make_messages_the_backbone_accepts()
    {
        using var supplier = new DipClient(fixture.SandboxOptionsOf(Role.SUP));
        using var registration = new DipClient(fixture.SandboxOptionsOf(Role.REGS));
        using var dataService = new DipClient(fixture.SandboxOptionsOf(Role.SDS));
        var ldso = Server.Server.Sandbox.For(Role.LDSO).Participant;
        var sds = Server.Server.Sandbox.For(Role.SDS).Participant;
        var sup = Server.Server.Sandbox.For(Role.SUP).Participant;
        var point = new MeteringPoint("1012345678903", ldso.DipId, "_A");
        var requesting = new MarketParty(sup.DipId, sup.Mpid);
        var proposal = new DataServiceProposal { Service = new MarketParty(sds.DipId, sds.Mpid), EffectiveFrom = new DateOnly(2025, 4, 2), Scenario = "CSP" };

        var consider = await registration.SendAsync(new ServiceConsiderationRequest
        {
            Point = point, Proposal = proposal, RequestingSupplier = requesting, RegistrationId = "c0ffee00-0000-4000-8000-000000000002", Recipients = [sds.DipId],
        });
        var accept = await dataService.SendAsync(new ServiceAppointmentResponse { Point = point, Proposal = proposal, RequestingSupplier = requesting, Recipients = [registration.Options.DipId] });
        var reject = await dataService.SendAsync(new ServiceAppointmentResponse
        {
            Point = point, Proposal = proposal, RequestingSupplier = requesting, Accept = false, RejectionReason = "REJ001 - No contract with the supplier",
            Recipients = [registration.Options.DipId],
        });
        var accepted = await registration.SendAsync(new ServiceAppointmentStatus { Point = point, Proposal = proposal, RequestingSupplier = requesting, Recipients = [sup.DipId] });
        var lapsed = await registration.SendAsync(new ServiceAppointmentStatus
        {
            Point = point, Proposal = proposal, RequestingSupplier = requesting, Outcome = AppointmentOutcome.Lapsed, Reason = "LAP001 - No answer in five working days",
            Recipients = [sup.DipId],
        });

        foreach (var (what, result) in new[] { ("IF-033", consider), ("IF-034 accept", accept), ("IF-034 reject", reject), ("IF-035 accepted", accepted), ("IF-035 lapsed", lapsed) })
        {
            Assert.True(result.Accepted, $"{what}: {result.Text}: {result.Help}");
        }

        var built = registration.Build(new ServiceAppointmentStatus { Point = point, Proposal = proposal, RequestingSupplier = requesting, Outcome = AppointmentOutcome.Rejected, Reason = "R" });
        Assert.Equal("[DSAppRejected]", built.CommonBlock["S0"]!["eventCode"]!.GetValue<string>());
        Assert.Equal("R", built.CustomBlock!["B007"]!["responseCode"]!.GetValue<string>());
        Assert.Throws<ArgumentException>(() => dataService.Build(new ServiceAppointmentResponse { Point = point, Proposal = proposal, RequestingSupplier = requesting, Accept = false }));
    }

    [Fact]
    public async Task A_metering_service_proposal_makes_the_families_MSApp_messages_with_B070_which_the_backbone_accepts()
    {
        using var registration = new DipClient(fixture.SandboxOptionsOf(Role.REGS));
        using var meteringService = new DipClient(fixture.SandboxOptionsOf(Role.MSS));
        var ldso = Server.Server.Sandbox.For(Role.LDSO).Participant;
        var mss = Server.Server.Sandbox.For(Role.MSS).Participant;
        var sup = Server.Server.Sandbox.For(Role.SUP).Participant;
        var point = new MeteringPoint("1012345678903", ldso.DipId, "_A");
        var requesting = new MarketParty(sup.DipId, sup.Mpid);
        var proposal = new MeteringServiceProposal { Service = new MarketParty(mss.DipId, mss.Mpid), EffectiveFrom = new DateOnly(2025, 4, 2), ContractReference = "C-17" };

        ServiceProposalMessage[] family =
        [
            new ServiceAppointmentRequest { Point = point, Proposal = proposal },
            new ServiceAppointmentInitialResponse { Point = point, Proposal = proposal },
            new ServiceConsiderationRequest { Point = point, Proposal = proposal, RequestingSupplier = requesting },
            new ServiceAppointmentResponse { Point = point, Proposal = proposal, RequestingSupplier = requesting },
            new ServiceAppointmentStatus { Point = point, Proposal = proposal, RequestingSupplier = requesting },
        ];
        Assert.Equal(["[MSApp]", "[MSAppInitialResp]", "[MSAppSPRequest]", "[MSAppSPResponse]", "[MSAppAccepted]"],
            family.Select(m => registration.Build(m).CommonBlock["S0"]!["eventCode"]!.GetValue<string>()));
        var built = registration.Build(family[3]).CustomBlock!;
        Assert.Null(built["B071"]);
        Assert.Equal(mss.DipId, built["B070"]!["proposedMeteringServiceDIPID"]!.GetValue<string>());
        using var read = JsonDocument.Parse(built.ToJsonString());
        Assert.Equal(proposal, ServiceProposal.Read(read.RootElement));
        using var none = JsonDocument.Parse("""{"B012":{}}""");
        Assert.Throws<FormatException>(() => ServiceProposal.Read(none.RootElement));

        var consider = await registration.SendAsync(new ServiceConsiderationRequest { Point = point, Proposal = proposal, RequestingSupplier = requesting, Recipients = [mss.DipId] });
        var accept = await meteringService.SendAsync(new ServiceAppointmentResponse { Point = point, Proposal = proposal, RequestingSupplier = requesting, Recipients = [registration.Options.DipId] });
        var accepted = await registration.SendAsync(new ServiceAppointmentStatus { Point = point, Proposal = proposal, RequestingSupplier = requesting, Recipients = [sup.DipId, mss.DipId] });
        foreach (var (what, result) in new[] { ("IF-033", consider), ("IF-034", accept), ("IF-035", accepted) })
        {
            Assert.True(result.Accepted, $"{what}: {result.Text}: {result.Help}");
        }
    }

    /// <summary><paramref name="count"/> generated MPAN numbers from <paramref name="from"/> on that one data service sends for.</summary>
    private long[] NumbersOfOneSender(long from, int count)
    {
        var sender = Server.SenderOf(from);
        return [.. Enumerable.Range(0, 400).Select(i => from + i).Where(n => Server.SenderOf(n) == sender).Take(count)];
    }
}
