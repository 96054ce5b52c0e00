using System.CommandLine;
using Halfhour.Market.Participants;
using Halfhour.Server.Hosting;
using Microsoft.Extensions.Hosting;

namespace Halfhour.Cli.Serve;

/// <summary>
/// <c>halfhour serve</c>: runs the backbone on this machine. The first start creates the sandbox (a local CA, the
/// server certificate, one DEV participant per role) in the data directory; later starts reuse it.
/// </summary>
public static class ServeCommand
{
    /// <summary>Builds the <c>serve</c> command.</summary>
    public static Command Create()
    {
        var data = new Option<DirectoryInfo>("--data")
        {
            Description = "The data directory: sandbox credentials, participant registry.",
            DefaultValueFactory = _ => new DirectoryInfo("data"),
        };
        var port = new Option<int>("--port")
        {
            Description = "The HTTPS port on 127.0.0.1 (0 picks a free one).",
            DefaultValueFactory = _ => 8443,
        };
        var urls = new Option<string?>("--urls")
        {
            Description = "Semicolon-separated https://address:port URLs to listen on instead of 127.0.0.1:PORT.",
        };

        var engine = new Option<string?>("--engine")
        {
            Description = "The event store: embedded (the log under the data directory, one node) or nats (a NATS JetStream cluster that several serve nodes share). "
                + "Configuration key Halfhour:Backbone:Engine.",
        };
        engine.AcceptOnlyFromAmong("embedded", "nats");
        var natsOptions = new (Option<string?> Option, string Key)[]
        {
            (new Option<string?>("--nats-url") { Description = "NATS servers, comma-separated: nats://host:4222[,nats://host:4222…] (Halfhour:Backbone:Nats:Urls)." }, "Urls"),
            (new Option<string?>("--nats-replicas") { Description = "Copies of every stream and bucket: 3 in a cluster, 1 on a single server (Halfhour:Backbone:Nats:Replicas)." }, "Replicas"),
            (new Option<string?>("--nats-creds") { Description = "A NATS credentials file (Halfhour:Backbone:Nats:CredentialsFile)." }, "CredentialsFile"),
            (new Option<string?>("--nats-ca") { Description = "CA bundle (PEM) of the NATS servers' certificates; turns TLS on (Halfhour:Backbone:Nats:TlsCaFile)." }, "TlsCaFile"),
            (new Option<string?>("--nats-cert") { Description = "Client certificate (PEM) for mutual TLS to NATS (Halfhour:Backbone:Nats:TlsCertFile)." }, "TlsCertFile"),
            (new Option<string?>("--nats-key") { Description = "The client certificate's private key (PEM) (Halfhour:Backbone:Nats:TlsKeyFile)." }, "TlsKeyFile"),
        };

        var serve = new Command("serve",
            "Run the backbone: the DIP-compatible participant API over mutual TLS. Any further --Halfhour:Key=value " +
            "arguments are configuration (e.g. --Halfhour:Limits:RequestsPerSecond=100), as are Halfhour__Key environment variables.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        serve.Options.Add(data);
        serve.Options.Add(port);
        serve.Options.Add(urls);
        serve.Options.Add(engine);
        foreach (var (option, _) in natsOptions)
        {
            serve.Options.Add(option);
        }

        serve.SetAction(async (ParseResult parsed, CancellationToken cancellationToken) =>
        {
            List<string> args =
            [
                $"--{HalfhourServerOptions.Section}:DataDirectory={parsed.GetValue(data)!.FullName}",
                $"--{HalfhourServerOptions.Section}:Port={parsed.GetValue(port)}",
            ];
            if (parsed.GetValue(urls) is { Length: > 0 } listen) args.Add($"--{HalfhourServerOptions.Section}:Urls={listen}");
            // Flags given override appsettings and the environment; flags not given leave them be.
            if (parsed.GetValue(engine) is { } chosen) args.Add($"--{HalfhourServerOptions.Section}:Backbone:Engine={(chosen == "nats" ? "Nats" : "Embedded")}");
            foreach (var (option, key) in natsOptions)
            {
                if (parsed.GetValue(option) is { Length: > 0 } value) args.Add($"--{HalfhourServerOptions.Section}:Backbone:Nats:{key}={value}");
            }

            args.AddRange(parsed.UnmatchedTokens);

            RunningServer server;
            try
            {
                Console.Out.WriteLine("halfhour: starting (a first start creates the sandbox credentials, which takes a few seconds)…");
                server = await HalfhourServer.StartAsync([.. args], cancellationToken: cancellationToken);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"halfhour serve: could not start: {e.Message}");
                return 1;
            }

            await using (server)
            {
                PrintBanner(server);
                await server.App.WaitForShutdownAsync(cancellationToken);
            }

            return 0;
        });
        return serve;
    }

    /// <summary>
    /// Writes <c>DATA/sandbox/dip-send.sh</c>: curl with the DIP signature headers computed by openssl, for a sandbox
    /// participant, against this start's address. Rewritten each start, since the port may change.
    /// </summary>
    private static string WriteSendScript(string sandboxDirectory, string authorityPath, Uri baseAddress)
    {
        var path = Path.Combine(sandboxDirectory, "dip-send.sh");
        var script = $$"""
            #!/bin/sh
            # Usage: dip-send.sh CHANNEL BODY.json  (ROLE=SDS by default: the sandbox participant that sends)
            # Signs as the DIP does: base64(RSA-SHA256 over "POST;lowercase(url);date;base64(sha256(body))").
            set -eu
            dir="$(cd "$(dirname "$0")" && pwd)"
            role="${ROLE:-SDS}"
            who="$(ls -d "$dir/$role"-*/ | head -1)"
            url="{{new Uri(baseAddress, "/dip-channel/")}}$1"
            date="$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
            hash="$(openssl dgst -sha256 -binary "$2" | base64 | tr -d '\n')"
            lower="$(printf %s "$url" | tr 'A-Z' 'a-z')"
            signature="$(printf %s "POST;$lower;$date;$hash" | openssl dgst -sha256 -sign "${who}key.pem" | base64 | tr -d '\n')"
            certificate="$(base64 < "${who}cert.pem" | tr -d '\n')"
            exec curl -sS -w '\nHTTP %{http_code}\n' --cacert "{{authorityPath}}" --cert "${who}cert.pem" --key "${who}key.pem"               -H 'Content-Type: application/json' -H "X-DIP-Signature: $signature" -H "X-DIP-Signature-Date: $date"               -H "X-DIP-Content-Hash: $hash" -H "X-DIP-Signature-Certificate: $certificate" --data-binary @"$2" "$url"

            """;
        File.WriteAllText(path, script.ReplaceLineEndings("\n"));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return path;
    }

    private static void PrintBanner(RunningServer server)
    {
        var sandbox = server.Sandbox;
        var example = sandbox.For(Role.SUP);
        var output = Console.Out;
        output.WriteLine($"halfhour: listening on {string.Join(", ", server.Addresses)}");
        output.WriteLine($"halfhour: sandbox credentials in {sandbox.Directory}");
        output.WriteLine($"  CA certificate    {sandbox.AuthorityCertificatePath}");
        output.WriteLine($"  participants      {sandbox.ParticipantsFilePath} (one DEV participant per role: DIP ID, MPID, API key, certificate, key)");
        output.WriteLine($"  operator API key  {Path.Combine(sandbox.Directory, "operator-api-key.txt")} (header X-Operator-Key)");
        output.WriteLine("halfhour: try it (who am I, over mutual TLS):");
        output.WriteLine($"  curl --cacert {sandbox.AuthorityCertificatePath} --cert {example.CertificatePath} --key {example.PrivateKeyPath} " +
            $"{new Uri(server.BaseAddress, "/participant/me")}");
        var send = WriteSendScript(sandbox.Directory, sandbox.AuthorityCertificatePath, server.BaseAddress);
        output.WriteLine("halfhour: send a message (signed the DIP way with openssl, sent with curl; answers the StandardResponse):");
        output.WriteLine($"  {send} IF-021 message.json   # message.json: a JSON array of {{\"payload\": …}}; SDS as sender by default, ROLE=… to change");
        output.WriteLine("halfhour: Ctrl+C stops.");
    }
}
