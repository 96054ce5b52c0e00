using System.Diagnostics;
using System.Text;

namespace Halfhour.Log.Tests.Crash;

/// <summary>The CrashWriter child process: started with <c>dotnet</c>, killed with SIGKILL, its acknowledgements collected.</summary>
public sealed class CrashWriterProcess : IDisposable
{
    /// <summary>A fixed test key (32 zero-to-31 bytes), handed to the child through the environment.</summary>
    public static readonly string Keys = "1:" + Convert.ToBase64String(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray());

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Task _reader;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CrashWriterProcess(string directory, int run)
    {
        var start = new ProcessStartInfo(DotnetHost(), [Locate(), directory, run.ToString(System.Globalization.CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["HALFHOUR_LOG_KEYS"] = Keys;
        start.Environment["DOTNET_TieredPGO"] = "0";
        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start the crash writer");
        _reader = Task.Run(ReadOutputAsync);
    }

    public Task Ready => _ready.Task;

    public string Errors { get; private set; } = "";

    /// <summary>SIGKILL, then the complete lines it printed (a line cut by the kill is dropped).</summary>
    public async Task<List<string>> KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
        await _reader;
        Errors = await _process.StandardError.ReadToEndAsync();
        string text;
        lock (_output)
        {
            text = _output.ToString();
        }

        var complete = text[..(text.LastIndexOf('\n') + 1)];
        return [.. complete.Split('\n', StringSplitOptions.RemoveEmptyEntries)];
    }

    private async Task ReadOutputAsync()
    {
        var buffer = new char[8192];
        int read;
        while ((read = await _process.StandardOutput.ReadAsync(buffer)) > 0)
        {
            lock (_output)
            {
                _output.Append(buffer, 0, read);
                if (!_ready.Task.IsCompleted && _output.ToString().Contains("READY\n", StringComparison.Ordinal))
                {
                    _ready.TrySetResult();
                }
            }
        }

        _ready.TrySetException(new InvalidOperationException("the crash writer ended before it was ready"));
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private static string DotnetHost()
    {
        var host = Environment.ProcessPath;
        return host is not null && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
    }

    /// <summary>Finds the CrashWriter built in the same configuration as these tests (bin/CONFIG/TFM).</summary>
    private static string Locate()
    {
        var baseDirectory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var framework = baseDirectory.Name;
        var configuration = baseDirectory.Parent!.Name;
        for (var dir = baseDirectory; dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Halfhour.Log.CrashWriter", "bin", configuration, framework, "Halfhour.Log.CrashWriter.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException($"Halfhour.Log.CrashWriter.dll ({configuration}/{framework}) not found; build the solution (dotnet build Halfhour.slnx -c {configuration}) first.");
    }
}
