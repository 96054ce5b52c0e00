using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Halfhour.Client.Transport;
using Halfhour.Engines.Nats.Local;

namespace Halfhour.Server.Tests.Crash;

/// <summary>
/// The real backbone as a child process — <c>dotnet halfhour.dll serve --data DIR --port PORT</c>, built by
/// <c>dotnet build Halfhour.slnx -c Release</c> — that a test can SIGKILL and start again on the same data directory
/// and port. Its output is kept (the last lines) to explain a failure.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    // A start creates the sandbox (a CA and a key per participant) the first time; later starts recover the log.
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(120); // a restart restores two days of sender references: ~60 s seen at a load average of 30

    // Lines of the server's output kept for a failure message.
    private const int KeptLines = 40;

    private readonly RecentLines _output;
    private readonly IReadOnlyList<string> _arguments;
    private Process? _process;

    /// <param name="dataDirectory">Its data directory.</param>
    /// <param name="arguments">More arguments of <c>serve</c> (the engine, for a cluster node).</param>
    public ServerProcess(string dataDirectory, IReadOnlyList<string>? arguments = null)
    {
        DataDirectory = dataDirectory;
        _arguments = arguments ?? [];
        Port = FreePort();
        _output = new RecentLines(KeptLines, $"server-{Port}");
        BaseAddress = new Uri($"https://127.0.0.1:{Port}/");
    }

    public string DataDirectory { get; }

    public int Port { get; }

    public Uri BaseAddress { get; }

    /// <summary>Whether the process runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    public string SandboxDirectory => Path.Combine(DataDirectory, "sandbox");

    public PrivateCaTrust Trust => PrivateCaTrust.FromPemFile(Path.Combine(SandboxDirectory, "ca.pem"));

    /// <summary>The server's last lines of output.</summary>
    public string RecentOutput => _output.ToString();

    /// <summary>Starts the server and waits until <c>/readyz</c> answers 200.</summary>
    public async Task StartAsync()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])[Locate(), "serve", "--data", DataDirectory, "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--Halfhour:Limits:RequestsPerSecond=100000", "--Halfhour:Limits:RequestBurst=100000", .. _arguments])
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start the server");
        _output.Add($"== started (pid {_process.Id})");
        _process.OutputDataReceived += (_, e) => _output.Add(e.Data);
        _process.ErrorDataReceived += (_, e) => _output.Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitReadyAsync(_process);
    }

    /// <summary>SIGKILL: no shutdown, no flush, no goodbye.</summary>
    public async Task KillAsync()
    {
        if (_process is null)
        {
            return;
        }

        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        _output.Add("== killed (SIGKILL)");
        _process.Dispose();
        _process = null;
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process?.Dispose();
    }

    /// <summary>The repository the test binaries were built in: the first folder above them holding Halfhour.slnx.</summary>
    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Halfhour.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Halfhour.slnx above {AppContext.BaseDirectory}: the test must run from the repository's build output.");
    }

    /// <summary>The CLI built in Release (or Debug) beside this test.</summary>
    public static string Locate()
    {
        var root = RepositoryRoot();
        var built = new[] { "Release", "Debug" }
            .Select(configuration => new FileInfo(Path.Combine(root, "src", "Halfhour.Cli", "bin", configuration, "net10.0", "halfhour.dll")))
            .Where(file => file.Exists)
            .OrderByDescending(file => file.LastWriteTimeUtc)
            .FirstOrDefault();
        return built?.FullName ?? throw new InvalidOperationException(
            $"halfhour.dll is not built under {root}/src/Halfhour.Cli/bin; run `dotnet build Halfhour.slnx -c Release` first.");
    }

    private async Task WaitReadyAsync(Process process)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < StartTimeout)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the server exited ({process.ExitCode}) while starting:\n{RecentOutput}");
            }

            if (File.Exists(Path.Combine(SandboxDirectory, "ca.pem")))
            {
                using var probe = new OperatorClient(BaseAddress, Trust);
                if (await probe.IsReadyAsync())
                {
                    return;
                }
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"the server was not ready within {StartTimeout.TotalSeconds} s:\n{RecentOutput}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
