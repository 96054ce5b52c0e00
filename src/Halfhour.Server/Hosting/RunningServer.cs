using Halfhour.Server.Sandbox;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Halfhour.Server.Hosting;

/// <summary>A started server: where it listens and what it created in its data directory. Disposing stops it.</summary>
public sealed class RunningServer : IAsyncDisposable
{
    internal RunningServer(WebApplication app)
    {
        App = app;
        Addresses = [.. app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a))];
        Sandbox = app.Services.GetRequiredService<SandboxCredentials>();
    }

    /// <summary>The running application.</summary>
    public WebApplication App { get; }

    /// <summary>The bound addresses, with the ports actually chosen (a configured port 0 becomes a real one).</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>The first bound address, e.g. <c>https://127.0.0.1:8443/</c>.</summary>
    public Uri BaseAddress => Addresses[0];

    /// <summary>The sandbox credentials in the data directory.</summary>
    public SandboxCredentials Sandbox { get; }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
