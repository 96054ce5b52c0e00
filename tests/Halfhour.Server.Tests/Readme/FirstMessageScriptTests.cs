using System.Diagnostics;
using Halfhour.Server.Tests.Crash;

namespace Halfhour.Server.Tests.Readme;

/// <summary>The README's first-message walk-through, run as a newcomer would: the real server process, then the script with curl and openssl.</summary>
public sealed class FirstMessageScriptTests
{
    [Fact]
    public async Task The_first_message_script_of_the_README_sends_pulls_and_acknowledges_with_curl_and_openssl()
    {
        var data = Path.Combine(Path.GetTempPath(), "halfhour-readme-" + Guid.NewGuid().ToString("N"));
        var server = new ServerProcess(data);
        try
        {
            await server.StartAsync();
            var script = Path.Combine(ServerProcess.RepositoryRoot(), "examples", "first-message.sh");
            var start = new ProcessStartInfo("bash", [script, data, server.BaseAddress.ToString().TrimEnd('/')])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var run = Process.Start(start)!;
            var output = await run.StandardOutput.ReadToEndAsync();
            var errors = await run.StandardError.ReadToEndAsync();
            await run.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

            Assert.True(run.ExitCode == 0, $"the script failed ({run.ExitCode}):\n{output}\n{errors}");
            Assert.Contains("MSG0000 - Success", output, StringComparison.Ordinal);
            Assert.Contains("HTTP 201", output, StringComparison.Ordinal);
            Assert.Contains("\"publicationID\":\"PUB-021\"", output, StringComparison.Ordinal);
            Assert.Contains("{\"acknowledged\":1}", output, StringComparison.Ordinal);
        }
        finally
        {
            server.Dispose();
            try
            {
                Directory.Delete(data, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
