using System.Net;
using Halfhour.Server.Hosting;

namespace Halfhour.Server.Tests.Hosting;

public class ListenEndpointsTests
{
    [Fact]
    public void Without_urls_the_server_listens_on_the_listen_address_and_port() =>
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 8443)], ListenEndpoints.From(new HalfhourServerOptions()));

    [Fact]
    public void Urls_name_each_endpoint_with_localhost_as_the_ipv4_loopback_and_star_as_every_address()
    {
        var endpoints = ListenEndpoints.From(new HalfhourServerOptions { Urls = "https://localhost:9443; https://*:9444;https://[::1]:9445" });

        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 9443), new IPEndPoint(IPAddress.Any, 9444), new IPEndPoint(IPAddress.IPv6Loopback, 9445)], endpoints);
    }

    [Fact]
    public void A_plain_http_url_is_refused_because_participants_connect_with_mutual_tls()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ListenEndpoints.From(new HalfhourServerOptions { Urls = "http://127.0.0.1:8080" }));

        Assert.Contains("only HTTPS", e.Message, StringComparison.Ordinal);
    }
}
