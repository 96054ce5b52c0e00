using System.CommandLine;
using System.Text.Json;
using Halfhour.Client.Sandbox;
using Halfhour.Client.Transport;

namespace Halfhour.Cli.Messaging;

/// <summary>
/// The options every participant-facing command shares — which backbone (<c>--url</c>), whose sandbox credentials
/// (<c>--data</c>, <c>--as</c>), how hard to retry, <c>--json</c> — and the way they all report failure: one line on
/// stderr saying what went wrong and what to do, exit code 2.
/// </summary>
internal static class ParticipantOptions
{
    /// <summary>Exit code when everything asked for was done.</summary>
    public const int Done = 0;

    /// <summary>Exit code when the backbone refused some messages.</summary>
    public const int SomeRefused = 1;

    /// <summary>Exit code when the command could not do its work (bad input, no backbone, request refused).</summary>
    public const int Failed = 2;

    /// <summary>The address of <c>./halfhour serve</c> with its defaults.</summary>
    public static readonly Uri DefaultUrl = new("https://127.0.0.1:8443/");

    public static readonly Option<DirectoryInfo> Data = new("--data")
    {
        Description = "The backbone's data directory, whose sandbox/ holds the demo participants' credentials (participants.json) and the CA.",
        DefaultValueFactory = _ => new DirectoryInfo("data"),
    };

    public static readonly Option<string> As = new("--as")
    {
        Description = "The sandbox participant to act as: a DIP ID (9900000004) or a role code (SDS, SUP, LDSO, REGS …).",
        Required = true,
    };

    public static readonly Option<Uri> Url = new("--url")
    {
        Description = "The backbone's base address.",
        DefaultValueFactory = _ => DefaultUrl,
        CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "https" or "http")
            {
                return url.AbsoluteUri.EndsWith('/') ? url : new Uri(url.AbsoluteUri + "/");
            }

            result.AddError($"--url '{text}' is not an address such as {DefaultUrl}.");
            return null;
        },
    };

    public static readonly Option<int> Retries = new("--retries")
    {
        Description = "Attempts per request on 429, 5xx or a lost connection (never on another 4xx).",
        DefaultValueFactory = _ => 3,
    };

    public static readonly Option<bool> Json = new("--json") { Description = "Print JSON (one object per line for messages) instead of text." };

    public static readonly Option<string> Channel = new("--channel")
    {
        Description = "The channel: an interface ID such as IF-021.",
        Required = true,
    };

    /// <summary>JSON as the commands print it: compact, one value per line.</summary>
    public static readonly JsonSerializerOptions Output = new(JsonSerializerDefaults.Web);

    /// <summary>Adds the shared options to a command.</summary>
    public static void AddTo(Command command, bool channel = true)
    {
        command.Options.Add(Data);
        command.Options.Add(As);
        command.Options.Add(Url);
        command.Options.Add(Retries);
        command.Options.Add(Json);
        if (channel) command.Options.Add(Channel);
    }

    /// <summary>The sandbox named by <c>--data</c>.</summary>
    public static SandboxDirectory Sandbox(ParseResult parsed) => SandboxDirectory.Open(parsed.GetValue(Data)!.FullName);

    /// <summary>A client for the participant named by <c>--as</c>.</summary>
    public static DipClient Client(ParseResult parsed)
    {
        var sandbox = Sandbox(parsed);
        var options = sandbox.ClientOptions(sandbox.Find(parsed.GetValue(As)!), parsed.GetValue(Url)!);
        return new DipClient(options with { Retry = DipRetryPolicy.Default with { MaxAttempts = Math.Max(1, parsed.GetValue(Retries)) } });
    }

    /// <summary>Runs a command's work, turning the failures a user can fix into one clear line on stderr and exit code 2.</summary>
    public static async Task<int> RunAsync(string command, ParseResult parsed, Func<Task<int>> work)
    {
        try
        {
            return await work();
        }
        catch (DipRequestException e) when (e.Reason == "unreachable")
        {
            await Console.Error.WriteLineAsync(
                $"halfhour {command}: no backbone answers at {parsed.GetValue(Url)} ({e.InnerException?.Message}). " +
                $"Start one with `./halfhour serve --data {parsed.GetValue(Data)}` in another terminal, or give its address with --url.");
        }
        catch (Exception e) when (e is DipRequestException or HttpRequestException or FileNotFoundException or DirectoryNotFoundException or KeyNotFoundException
            or FormatException or JsonException or InvalidDataException or UnauthorizedAccessException or IOException)
        {
            await Console.Error.WriteLineAsync($"halfhour {command}: {e.Message}");
        }

        return Failed;
    }
}
