using Halfhour.Server.Limits;

namespace Halfhour.Server.Hosting;

/// <summary>
/// The server's settings, bound from the <c>Halfhour</c> configuration section: appsettings.json, then environment
/// variables (<c>Halfhour__Port=9443</c>), then the command line (<c>--Halfhour:Port=9443</c>).
/// </summary>
public sealed record HalfhourServerOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Halfhour";

    /// <summary>Where the server keeps its state: the sandbox credentials, the participant registry.</summary>
    public string DataDirectory { get; init; } = "data";

    /// <summary>The address to listen on when <see cref="Urls"/> is not set. Loopback: nothing is exposed until an operator says so.</summary>
    public string ListenAddress { get; init; } = "127.0.0.1";

    /// <summary>The HTTPS port when <see cref="Urls"/> is not set; 0 picks a free one. 8443, the customary unprivileged HTTPS port.</summary>
    public int Port { get; init; } = 8443;

    /// <summary>Semicolon-separated <c>https://address:port</c> URLs, overriding address and port.</summary>
    public string? Urls { get; init; }

    /// <summary>The operator API key; when unset, the sandbox's <c>operator-api-key.txt</c>.</summary>
    public string? OperatorApiKey { get; init; }

    /// <summary>When true a participant must present its client certificate; an API key alone is refused (production practice).</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>
    /// A file of event-store encryption keys (<c>ID:BASE64</c> lines). When unset, the <c>HALFHOUR_LOG_KEYS</c>
    /// environment variable; when that is unset too, a key file the server creates in the data directory on first start.
    /// </summary>
    public string? KeyFile { get; init; }

    /// <summary>The backbone behind the participant API: store, delivery, webhooks.</summary>
    public BackboneHostOptions Backbone { get; init; } = new();

    /// <summary>Request limits and rates.</summary>
    public RequestLimits Limits { get; init; } = new();
}
