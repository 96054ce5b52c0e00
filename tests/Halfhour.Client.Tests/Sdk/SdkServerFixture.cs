using Halfhour.Client.Messages;
using Halfhour.Client.Transport;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;
using Halfhour.Server.Tests.Backbone;

namespace Halfhour.Client.Tests.Sdk;

/// <summary>A real backbone on loopback for the SDK tests: short visibility timeout and quick webhook retries.</summary>
public sealed class SdkServerFixture() : BackboneServerFixture(new()
{
    ["Halfhour:Backbone:VisibilityTimeout"] = "00:00:02",
    ["Halfhour:Backbone:WebhookInitialBackoff"] = "00:00:00.100",
    ["Halfhour:Backbone:WebhookMaxBackoff"] = "00:00:00.400",
})
{
    /// <summary>Fast retries: the tests wait for them.</summary>
    public static DipRetryPolicy QuickRetries { get; } = new() { MaxAttempts = 4, InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(200) };

    /// <summary>SDK options for a roster participant of the backbone (consumption roster: SUP, SDS, LDSO, LSS, MDS).</summary>
    public DipClientOptions OptionsOf(string dipId, Role role) => new()
    {
        BaseAddress = Server.Server.BaseAddress,
        DipId = dipId,
        Role = role.ToString(),
        Environment = BackboneServer.Environment.ToString(),
        Certificate = Server.CertificateOf(dipId),
        ApiKey = BackboneServer.ApiKeyOf(dipId),
        ServerTrust = Server.Trust,
        Retry = QuickRetries,
    };

    /// <summary>SDK options for the sandbox's demo participant of a role (every role is there, e.g. REGS).</summary>
    public DipClientOptions SandboxOptionsOf(Role role)
    {
        var participant = Server.Server.Sandbox.For(role);
        return new DipClientOptions
        {
            BaseAddress = Server.Server.BaseAddress,
            DipId = participant.Participant.DipId,
            Role = role.ToString(),
            Environment = participant.Participant.Environment.ToString(),
            Certificate = PemCredentials.Load(participant.CertificatePath, participant.PrivateKeyPath),
            ApiKey = participant.ApiKey,
            ServerTrust = Server.Trust,
            Retry = QuickRetries,
        };
    }

    /// <summary>A client for the supplier of an MPAN whose IF-021 inbox has been emptied, so a test sees only its own messages.</summary>
    public async Task<DipClient> DrainedSupplierOfAsync(long mpan)
    {
        var supplier = new DipClient(OptionsOf(Server.Roster.SupplierOf(mpan), Role.SUP));
        await supplier.ConsumeAsync("IF-021", (_, _) => Task.CompletedTask, new ConsumeOptions { StopWhenEmpty = true });
        return supplier;
    }

    /// <summary>The data service that sends for generated MPAN number <paramref name="number"/>.</summary>
    public DipClient DataServiceFor(long number) => new(OptionsOf(Server.SenderOf(number), Role.SDS));

    /// <summary>A typed IF-021 message for generated MPAN number <paramref name="number"/>, addressed to its supplier.</summary>
    public ConsumptionMessage ConsumptionFor(long number, DateOnly? day = null)
    {
        var mpan = Server.Builder.MpanOf(number);
        return new ConsumptionMessage
        {
            Point = new MeteringPoint(mpan.ToString(System.Globalization.CultureInfo.InvariantCulture), Server.Roster.DistributorOf(mpan), ConsumptionRoster.GspGroupOf(mpan)),
            SettlementDay = day ?? new DateOnly(2025, 3, 10),
            Periods = [.. Enumerable.Range(0, ConsumptionMessage.PeriodsPerDay).Select(i => 0.125m * (i % 8))],
            Recipients = [Server.Roster.SupplierOf(mpan)],
        };
    }
}

[CollectionDefinition(Name)]
public sealed class SdkCollection : ICollectionFixture<SdkServerFixture>
{
    public const string Name = "sdk";
}
