using System.Net;
using System.Net.Sockets;
using Halfhour.Market.Participants;

namespace Halfhour.Server.Push;

/// <summary>
/// Which webhook callback URLs a recipient may register. In the sandbox (DEV) a developer's own machine is the
/// usual receiver, so <c>http://</c> is allowed to loopback addresses and <c>https://</c> anywhere. Every other
/// environment carries market data to other organisations: HTTPS only, and never to loopback, private, link-local
/// or otherwise internal addresses (the backbone must not be a way into its own network) unless the operator allows
/// private addresses explicitly. The same address rule is enforced again when connecting, against what the name
/// resolves to then, so a DNS answer that changes after registration cannot point the backbone inwards.
/// </summary>
public sealed class CallbackAddressPolicy(bool allowPrivateAddresses)
{
    /// <summary>The environment whose callbacks may be plain HTTP to the local machine.</summary>
    public const MarketEnvironment Sandbox = MarketEnvironment.DEV;

    /// <summary>True when the operator allows callbacks to private and loopback addresses outside the sandbox.</summary>
    public bool AllowPrivateAddresses { get; } = allowPrivateAddresses;

    /// <summary>Why a callback URL may not be registered in an environment, or null when it may.</summary>
    public string? Refusal(string? text, MarketEnvironment environment)
    {
        if (string.IsNullOrWhiteSpace(text) || !Uri.TryCreate(text, UriKind.Absolute, out var url))
        {
            return $"callbackURL '{text}' is not an absolute URL such as https://receiver.example.com/dip/events.";
        }

        if (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp)
        {
            return $"callbackURL uses '{url.Scheme}'; the backbone pushes over HTTPS (plain HTTP only to this machine in the sandbox).";
        }

        if (url.UserInfo.Length > 0 || url.Fragment.Length > 0)
        {
            return "callbackURL must carry no user name, password or fragment; the backbone signs its requests instead.";
        }

        var loopback = IsLoopbackHost(url.Host);
        if (environment == Sandbox)
        {
            return url.Scheme == Uri.UriSchemeHttp && !loopback
                ? $"In {Sandbox} plain http:// is allowed only to this machine (127.0.0.1, ::1 or localhost); use https:// for {url.Host}."
                : null;
        }

        if (url.Scheme != Uri.UriSchemeHttps)
        {
            return $"In {environment} the callback must be https://; market data never travels in clear.";
        }

        if (!AllowPrivateAddresses && (loopback || (IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && IsInternal(address))))
        {
            return $"In {environment} the callback may not point at a loopback or private address ({url.Host}); register a public HTTPS address.";
        }

        return null;
    }

    /// <summary>True when an address may be connected to for a callback whose host is <paramref name="host"/>.</summary>
    public bool MayConnect(string host, IPAddress address) => AllowPrivateAddresses || IsLoopbackHost(host) || !IsInternal(address);

    /// <summary>True for a host that names this machine: localhost or a loopback address.</summary>
    public static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    /// <summary>True for loopback, private (RFC 1918, unique local), link-local, shared (CGNAT), unspecified and multicast addresses.</summary>
    public static bool IsInternal(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (IPAddress.IsLoopback(address)) return true;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            return address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast
                || (bytes[0] & 0xFE) == 0xFC // fc00::/7 unique local
                || address.Equals(IPAddress.IPv6Any);
        }

        var b = address.GetAddressBytes();
        return b[0] == 0 || b[0] == 10 || b[0] == 127 || b[0] >= 224
            || (b[0] == 172 && (b[1] & 0xF0) == 16)
            || (b[0] == 192 && b[1] == 168)
            || (b[0] == 169 && b[1] == 254)
            || (b[0] == 100 && (b[1] & 0xC0) == 64);
    }
}
