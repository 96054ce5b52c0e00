using System.Security.Authentication;
using System.Text.Json.Serialization;
using Halfhour.Broker.Delivery;
using Halfhour.Client.Signing;
using Halfhour.Client.Transport;
using Halfhour.Server.Credentials;
using Halfhour.Server.Documentation;
using Halfhour.Server.Health;
using Halfhour.Server.Identity;
using Halfhour.Server.Limits;
using Halfhour.Server.Operator;
using Halfhour.Server.Participants;
using Halfhour.Server.Problems;
using Halfhour.Server.Publishing;
using Halfhour.Server.Pull;
using Halfhour.Server.Replay;
using Halfhour.Server.Push;
using Halfhour.Server.Sandbox;
using Halfhour.Server.StatusMessages;
using Halfhour.Server.Tracking;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Halfhour.Server.Hosting;

/// <summary>
/// Builds the backbone's web host: configuration, the sandbox and registry in the data directory, Kestrel on
/// HTTPS with client certificates, problem details for every error, identity, rate limits and the endpoints.
/// </summary>
public static class HalfhourServer
{
    /// <summary>
    /// Builds the application from command-line arguments (standard ASP.NET Core configuration). The
    /// <paramref name="customize"/> callback runs first, before the options are read: it can add configuration,
    /// register the <see cref="IPublishHandler"/>, or register its own <see cref="TimeProvider"/> (kept over the system clock).
    /// </summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? customize = null)
    {
        // No reload of appsettings on change: reloading watches the whole content root (the working directory) for file
        // events, and the default data directory lies inside it, so every log write woke a watcher thread (2% of the
        // server's CPU under load in a profile). Options are read once at start; a change takes a restart.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false", .. args] });
        // The defaults shipped beside the program come first, so that an appsettings.json in the working directory,
        // environment variables and the command line each override them, in that order.
        builder.Configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        var shipped = builder.Configuration.Sources[^1];
        builder.Configuration.Sources.RemoveAt(builder.Configuration.Sources.Count - 1);
        builder.Configuration.Sources.Insert(0, shipped);
        customize?.Invoke(builder);

        var options = builder.Configuration.GetSection(HalfhourServerOptions.Section).Get<HalfhourServerOptions>() ?? new HalfhourServerOptions();
        var services = builder.Services;
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);

        // State in the data directory, created or loaded before the server listens, so a broken data directory stops the start.
        var clock = TimeProvider.System;
        var registry = OpenRegistry(options, services, clock);
        var sandbox = SandboxProvisioner.EnsureCreated(options.DataDirectory, registry, clock);
        var trust = new PrivateCaTrust([sandbox.Authority.Certificate]);
        services.AddSingleton(registry);
        services.AddSingleton(sandbox);
        services.AddSingleton(trust);
        services.AddSingleton(new OperatorKey(ApiKeys.Hash(options.OperatorApiKey ?? sandbox.OperatorApiKey)));
        services.AddSingleton(sp => new ParticipantIdentifier(registry, trust, options.RequireClientCertificate, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp =>
        {
            var time = sp.GetRequiredService<TimeProvider>();
            var skew = options.Limits.SignatureClockSkew;
            return new DipSignatureVerifier(new SignatureVerificationOptions { AllowedClockSkew = skew }, time,
                new SignatureReplayGuard(new ReplayGuardOptions { Retention = skew }, time));
        });
        services.AddSingleton<DipSignatureFilter>();
        services.AddSingleton<OperatorKeyFilter>();
        services.AddSingleton<OperatorAudit>();
        services.AddSingleton<AuditRecorder>();

        OpenApiDocument.Add(services);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ProblemDefaults.Complete);
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true); // so binding errors reach the problem handler with their reason
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
        services.AddAuthentication().AddScheme<AuthenticationSchemeOptions, ParticipantAuthenticationHandler>(ParticipantAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder().AddPolicy(ParticipantAuthenticationHandler.PolicyName, policy => policy
            .AddAuthenticationSchemes(ParticipantAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser());
        services.AddRateLimiter(o => ParticipantRateLimit.Configure(o, options.Limits));
        services.AddSingleton(new CallbackAddressPolicy(options.Backbone.AllowPrivateCallbackAddresses));
        if (options.Backbone.Enabled)
        {
            services.AddSingleton<BackboneHost>();
            services.AddHostedService(sp => sp.GetRequiredService<BackboneHost>());
            services.TryAddSingleton<IPublishHandler, BackbonePublishHandler>();
            services.TryAddSingleton<IWebhookTransport>(sp => new HttpWebhookTransport(sandbox.BackboneCertificate, trust,
                sp.GetRequiredService<CallbackAddressPolicy>(), options.Backbone.WebhookTimeout, sp.GetRequiredService<TimeProvider>()));
        }

        services.AddHealthChecks().AddCheck<PublishPipelineHealthCheck>("publish-pipeline", tags: [HealthEndpoints.ReadyTag]);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.Limits.MaxRequestBodyBytes;
            foreach (var endpoint in ListenEndpoints.From(options))
            {
                kestrel.Listen(endpoint, listen => listen.UseHttps(https =>
                {
                    https.ServerCertificate = sandbox.ServerCertificate;
                    https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13;
                    https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                    // Accept any certificate in the handshake and judge it per request (ParticipantIdentifier), so a refused
                    // certificate is answered with a problem-details sentence instead of a broken connection.
                    https.ClientCertificateValidation = static (_, _, _) => true;
                }));
            }
        });

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        MapEndpoints(app);
        return app;
    }

    /// <summary>
    /// The participant registry: a file in the data directory, or with the NATS engine a document every broker node
    /// shares (read on its own connection, since the registry is needed before the backbone starts).
    /// </summary>
    private static ParticipantRegistry OpenRegistry(HalfhourServerOptions options, IServiceCollection services, TimeProvider clock)
    {
        if (!options.Backbone.Enabled || options.Backbone.Engine != BackboneEngine.Nats)
        {
            return ParticipantRegistry.Open(Path.Combine(options.DataDirectory, "registry", "participants.json"), clock);
        }

        Engines.Nats.JetStreamEventStore connection;
        try
        {
            connection = Engines.Nats.JetStreamEventStore.ConnectAsync(options.Backbone.Nats.ToStoreOptions()).GetAwaiter().GetResult();
        }
        catch (NATS.Client.Core.NatsException e)
        {
            throw new IOException($"Could not reach NATS JetStream at {options.Backbone.Nats.Urls} for the participant registry: {e.Message}", e);
        }

        var document = connection.OpenDocumentAsync("participants").GetAwaiter().GetResult();
        var registry = ParticipantRegistry.Open(new SharedRegistryStorage(document), clock);
        services.AddHostedService(sp => new RegistryFollower(registry, connection, sp.GetRequiredService<ILogger<RegistryFollower>>()));
        return registry;
    }

    /// <summary>Builds and starts the server; the result tells where it listens.</summary>
    public static async Task<RunningServer> StartAsync(string[] args, Action<WebApplicationBuilder>? customize = null, CancellationToken cancellationToken = default)
    {
        var app = Build(args, customize);
        await app.StartAsync(cancellationToken);
        return new RunningServer(app);
    }

    private static void MapEndpoints(WebApplication app)
    {
        HealthEndpoints.Map(app);
        OpenApiDocument.Map(app);
        OperatorEndpoints.Map(app);

        var participant = app.MapGroup("")
            .RequireAuthorization(ParticipantAuthenticationHandler.PolicyName)
            .RequireRateLimiting(ParticipantRateLimit.PolicyName);
        participant.MapGet("/participant/me", ParticipantSelfEndpoint.Get);
        participant.MapPost("/dip-channel/{id}", DipChannelEndpoint.PublishAsync).AddEndpointFilter<DipSignatureFilter>();
        PullEndpoints.Map(participant);
        WebhookConfigEndpoints.Map(participant);
        DeliveryStatusEndpoint.Map(participant);
        ReplayEndpoints.Map(participant);
        StatusMessageEndpoints.Map(participant);
    }
}
