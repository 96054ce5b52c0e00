namespace Halfhour.Server.Hosting;

/// <summary>How the server runs the backbone, bound from <c>Halfhour:Backbone</c>.</summary>
public sealed record BackboneHostOptions
{
    /// <summary>
    /// When false the server opens no store: it identifies participants but stores nothing, and answers publishing
    /// with 503 (a front end on its own, for diagnosing connectivity and for tests of the HTTP layer).
    /// </summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The event-store engine: the embedded log under the data directory (default), or a NATS JetStream cluster shared by several nodes.</summary>
    public BackboneEngine Engine { get; init; } = BackboneEngine.Embedded;

    /// <summary>How to reach NATS JetStream when <see cref="Engine"/> is <see cref="BackboneEngine.Nats"/>.</summary>
    public NatsEngineOptions Nats { get; init; } = new();

    /// <summary>How long a pulled message stays invisible before it is handed out again unacknowledged. A minute: time to process a batch of 100, short enough that a crashed consumer's messages return soon.</summary>
    public TimeSpan VisibilityTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The longest a webhook POST may take before it counts as failed and is retried. Thirty seconds: the DIP's own publication timeout.</summary>
    public TimeSpan WebhookTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The first webhook retry delay; doubling up to <see cref="WebhookMaxBackoff"/>.</summary>
    public TimeSpan WebhookInitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between webhook retries.</summary>
    public TimeSpan WebhookMaxBackoff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Messages per replay page (206 and a continuation token when more follow). 100: the DIP's default webhook batch.</summary>
    public int ReplayPageSize { get; init; } = 100;

    /// <summary>
    /// Outside the sandbox (DEV), webhook callbacks must be public HTTPS addresses; true also allows private and
    /// loopback ones (a deployment whose participants sit on the same private network).
    /// </summary>
    public bool AllowPrivateCallbackAddresses { get; init; }
}
