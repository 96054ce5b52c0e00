using System.Net;

namespace Halfhour.Server.Hosting;

/// <summary>Where Kestrel listens: the configured URLs, or the listen address and port. HTTPS only, because every participant connection is mutual TLS.</summary>
internal static class ListenEndpoints
{
    public static IReadOnlyList<IPEndPoint> From(HalfhourServerOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Urls))
        {
            return [new IPEndPoint(ParseAddress(options.ListenAddress, "Halfhour:ListenAddress"), options.Port)];
        }

        var endpoints = new List<IPEndPoint>();
        foreach (var text in options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // '*' and '+' are the ASP.NET spellings of "every address"; Uri cannot parse them as hosts.
            var normalised = text.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal);
            if (!Uri.TryCreate(normalised, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttps)
            {
                throw new InvalidOperationException($"Listen URL '{text}' is not an https:// URL; the backbone serves only HTTPS (participants use mutual TLS).");
            }

            endpoints.Add(new IPEndPoint(ParseAddress(url.Host, $"the host of '{text}'"), url.Port));
        }

        return endpoints;
    }

    private static IPAddress ParseAddress(string host, string what)
    {
        // localhost means the IPv4 loopback: the sandbox server certificate names 127.0.0.1 and localhost.
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        return IPAddress.TryParse(host.Trim('[', ']'), out var address)
            ? address
            : throw new InvalidOperationException($"{what} '{host}' is not an IP address or localhost.");
    }
}
