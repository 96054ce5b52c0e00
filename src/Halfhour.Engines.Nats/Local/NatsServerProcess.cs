using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Halfhour.Engines.Nats.Local;

/// <summary>
/// A real <c>nats-server</c> process on loopback with JetStream, its own config file and store directory;
/// it can be SIGKILLed and restarted on the same ports and data, as a crashed node is. The engine's tests and
/// <c>halfhour bench e2e</c> start their servers with it; production deployments run their own.
/// </summary>
public sealed class NatsServerProcess : IAsyncDisposable
{
    /// <summary>
    /// How long a node may take to report healthy: JetStream recovers its streams before it does, and a
    /// cluster node waits for a meta leader; on a loaded 2-core machine that can take several seconds.
    /// </summary>
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly RecentLines _output;
    private Process? _process;
    private string? _domain;
    private string _extraConfig = "";

    private NatsServerProcess(string name, string directory, int clientPort, int monitorPort, int clusterPort)
    {
        Name = name;
        _output = new RecentLines(60, "nats-" + name);
        Directory = directory;
        ClientPort = clientPort;
        MonitorPort = monitorPort;
        ClusterPort = clusterPort;
    }

    /// <summary>The node's server_name.</summary>
    public string Name { get; }

    /// <summary>Its temporary directory: config file and JetStream store.</summary>
    public string Directory { get; }

    /// <summary>The client port.</summary>
    public int ClientPort { get; }

    /// <summary>The HTTP monitoring port.</summary>
    public int MonitorPort { get; }

    /// <summary>The cluster route port, 0 for a single node.</summary>
    public int ClusterPort { get; }

    /// <summary>The client URL.</summary>
    public string Url => $"nats://127.0.0.1:{ClientPort}";

    /// <summary>Whether the process is running.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The node's last lines of output (elections, catch-ups, warnings) and when it was started and killed.</summary>
    public string RecentOutput => _output.ToString();

    /// <summary>What to do when nats-server is not installed.</summary>
    public const string MissingMessage =
        "nats-server is not installed (looked on PATH, in /usr/sbin and /usr/local/bin): install Debian's package with `apt-get install -y nats-server` (test.sh does it).";

    /// <summary>The nats-server executable; missing is a failure, not a skip (test.sh installs it, the benchmark says how).</summary>
    public static string Executable => Find() ?? throw new InvalidOperationException(MissingMessage);

    /// <summary>Whether nats-server is installed where <see cref="Executable"/> looks.</summary>
    public static bool IsInstalled => Find() is not null;

    private static string? Find()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/sbin").Append("/usr/local/bin"))
        {
            var path = Path.Combine(dir, "nats-server");
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>CPU seconds the running process has used (user and system), 0 when it is not running.</summary>
    public double CpuSeconds
    {
        get
        {
            if (_process is not { HasExited: false } process)
            {
                return 0;
            }

            process.Refresh();
            return process.TotalProcessorTime.TotalSeconds;
        }
    }

    /// <summary>
    /// Starts one node with JetStream and waits until it is healthy; <paramref name="domain"/> names its
    /// JetStream domain and <paramref name="extraConfig"/> is appended to its config (leaf nodes for a mirror).
    /// </summary>
    public static async Task<NatsServerProcess> StartSingleAsync(string name = "single", string? domain = null, string extraConfig = "")
    {
        var ports = FreePorts.Take(2);
        var node = new NatsServerProcess(name, NewDirectory(), ports[0], ports[1], 0) { _domain = domain, _extraConfig = extraConfig };
        node.WriteConfig(clusterName: null, routes: []);
        await node.StartAsync();
        return node;
    }

    /// <summary>Creates (without starting) a cluster node; <see cref="NatsCluster"/> writes its routes.</summary>
    internal static NatsServerProcess CreateClusterNode(string name, int clientPort, int monitorPort, int clusterPort)
        => new(name, NewDirectory(), clientPort, monitorPort, clusterPort);

    /// <summary>Writes the node's config file.</summary>
    internal void WriteConfig(string? clusterName, IReadOnlyList<int> routes)
    {
        var store = Path.Combine(Directory, "jetstream").Replace("\\", "/", StringComparison.Ordinal);
        var config = string.Create(CultureInfo.InvariantCulture, $$"""
            server_name: {{Name}}
            listen: 127.0.0.1:{{ClientPort}}
            http: 127.0.0.1:{{MonitorPort}}
            jetstream {
              store_dir: "{{store}}"
              {{(_domain is null ? "" : "domain: " + _domain)}}
            }

            """);
        if (clusterName is not null)
        {
            var routeUrls = string.Join(", ", routes.Select(p => string.Create(CultureInfo.InvariantCulture, $"nats-route://127.0.0.1:{p}")));
            config += string.Create(CultureInfo.InvariantCulture, $$"""
                cluster {
                  name: {{clusterName}}
                  listen: 127.0.0.1:{{ClusterPort}}
                  routes: [{{routeUrls}}]
                }

                """);
        }

        File.WriteAllText(ConfigFile, config + _extraConfig);
    }

    private string ConfigFile => Path.Combine(Directory, "nats.conf");

    /// <summary>Starts the process (again) and waits until it answers healthy.</summary>
    public async Task StartAsync(bool waitHealthy = true)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"{Name} is already running.");
        }

        _process?.Dispose();
        var start = new ProcessStartInfo(Executable, ["-c", ConfigFile])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("nats-server did not start.");
        _output.Add($"== started (pid {_process.Id})");
        _process.OutputDataReceived += (_, e) => _output.Add(e.Data);
        _process.ErrorDataReceived += (_, e) => _output.Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (waitHealthy)
        {
            await WaitHealthyAsync();
        }
    }

    /// <summary>Waits until <c>/healthz</c> answers 200 (JetStream up; in a cluster, a meta leader known and streams current).</summary>
    public async Task WaitHealthyAsync()
    {
        var until = DateTime.UtcNow + ReadyTimeout;
        var url = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{MonitorPort}/healthz");
        while (true)
        {
            if (_process is { HasExited: true })
            {
                throw new InvalidOperationException($"nats-server {Name} exited with code {_process.ExitCode} while starting.");
            }

            try
            {
                using var response = await Http.GetAsync(new Uri(url));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"nats-server {Name} was not healthy within {ReadyTimeout}.");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILLs the process: no shutdown, no flush, as a power cut or OOM kill leaves it.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: false); // SIGKILL on Linux
            await process.WaitForExitAsync();
            _output.Add("== killed (SIGKILL)");
        }
    }

    /// <summary>
    /// SIGSTOPs the process: it holds its connections open and answers nothing, as a node frozen by its host (a long GC or
    /// I/O stall, a paused VM) does; its replicas fall behind. <see cref="ResumeAsync"/> lets it go on.
    /// </summary>
    public Task PauseAsync() => SignalAsync("STOP", "== paused (SIGSTOP)");

    /// <summary>SIGCONTs a process <see cref="PauseAsync"/> stopped.</summary>
    public Task ResumeAsync() => SignalAsync("CONT", "== resumed (SIGCONT)");

    private async Task SignalAsync(string signal, string note)
    {
        if (_process is not { HasExited: false } process)
        {
            throw new InvalidOperationException($"nats-server {Name} is not running.");
        }

        // .NET sends only SIGKILL and SIGTERM; kill(1) sends the rest.
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            ?? throw new InvalidOperationException("kill did not start.");
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} of nats-server {Name} (pid {process.Id}) failed ({kill.ExitCode}).");
        }

        _output.Add(note);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string NewDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "halfhour-nats-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        return directory;
    }
}

/// <summary>Free loopback ports, found by binding port 0 (a port may be taken again before use; rare on a test machine).</summary>
public static class FreePorts
{
    /// <summary><paramref name="count"/> distinct ports free at the time of the call.</summary>
    public static int[] Take(int count)
    {
        var listeners = new TcpListener[count];
        var ports = new int[count];
        for (var i = 0; i < count; i++)
        {
            listeners[i] = new TcpListener(IPAddress.Loopback, 0);
            listeners[i].Start();
            ports[i] = ((IPEndPoint)listeners[i].LocalEndpoint).Port;
        }

        foreach (var listener in listeners)
        {
            listener.Stop();
        }

        return ports;
    }
}
