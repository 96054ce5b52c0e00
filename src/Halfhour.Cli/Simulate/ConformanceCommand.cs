using System.CommandLine;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Halfhour.Client.Transport;
using Halfhour.Server.Credentials;
using Halfhour.Simulator.Conformance;
using Spectre.Console;

namespace Halfhour.Cli.Simulate;

/// <summary>
/// <c>halfhour conformance --target URL</c>: checks a participant's own webhook endpoint as the backbone will call it
/// (signed pushes, batches, duplicates, 207 answers, forged and unsigned pushes), signing as the sandbox's backbone
/// (<c>--data</c>) or as a throwaway backbone whose certificate and authority it prints for the endpoint to trust.
/// </summary>
public static class ConformanceCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var target = new Option<string>("--target") { Required = true, Description = "The webhook URL, as it would be registered with pubconfig (http:// or https://)." };
        var data = new Option<DirectoryInfo?>("--data") { Description = "A backbone's data directory: sign as its sandbox backbone certificate (sandbox/backbone.pem), which the endpoint trusts." };
        var trust = new Option<FileInfo?>("--trust") { Description = "PEM authority of the endpoint's TLS certificate, when it is not publicly trusted." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the checks as JSON to this file." };
        var keep = new Option<DirectoryInfo>("--backbone-dir")
        {
            DefaultValueFactory = _ => new DirectoryInfo("halfhour-conformance"),
            Description = "Without --data: where the throwaway backbone's authority and certificate are made once and kept, so the endpoint can trust them across runs.",
        };
        var command = new Command("conformance",
            "Check your own webhook endpoint the way the backbone calls it: signed pushes, batches, duplicates (taken idempotently), 207 answers, and refusal of " +
            "forged and unsigned pushes. Without --data a throwaway backbone certificate is made and its files printed, for the endpoint to trust. Exit 1 when a check fails.");
        foreach (var option in (Option[])[target, data, trust, json, keep])
        {
            command.Options.Add(option);
        }

        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            if (!Uri.TryCreate(parse.GetValue(target), UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                await Console.Error.WriteLineAsync($"conformance: --target '{parse.GetValue(target)}' is not an absolute http:// or https:// URL.");
                return 2;
            }

            var forgery = Path.Combine(Path.GetTempPath(), "halfhour-conformance-forger-" + Guid.NewGuid().ToString("N")[..8]);
            try
            {
                using var backbone = parse.GetValue(data) is { } directory ? SandboxBackbone(directory.FullName) : ThrowawayBackbone(parse.GetValue(keep)!.FullName);
                using var forger = Forger(forgery);
                var checker = new WebhookConformanceChecker(url, backbone, forger, parse.GetValue(trust) is { } file ? PrivateCaTrust.FromPemFile(file.FullName) : null);
                var checks = await checker.RunAsync(cancellationToken);
                var table = new Table().Title($"webhook conformance of {Markup.Escape(url.ToString())}").AddColumn("check").AddColumn("result").AddColumn("detail");
                foreach (var check in checks)
                {
                    table.AddRow(Markup.Escape(check.Name), check.Passed ? "[green]pass[/]" : "[red]FAIL[/]", Markup.Escape(check.Detail));
                }

                AnsiConsole.Write(table);
                if (parse.GetValue(json) is { } output)
                {
                    await File.WriteAllBytesAsync(output.FullName, JsonSerializer.SerializeToUtf8Bytes(new { target = url, conforms = checks.All(c => c.Passed), checks },
                        new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }), cancellationToken);
                }

                return checks.All(c => c.Passed) ? 0 : 1;
            }
            catch (Exception e) when (e is IOException or HttpRequestException or TaskCanceledException { CancellationToken.IsCancellationRequested: false })
            {
                // The checks could not be run to the end (not a failed check): exit 2, never 1, with the reason.
                await Console.Error.WriteLineAsync($"conformance: the checks could not be completed: {e.GetType().Name}: {e.Message}");
                return 2;
            }
            finally
            {
                if (Directory.Exists(forgery)) Directory.Delete(forgery, recursive: true);
            }
        });
        return command;
    }

    private static X509Certificate2 SandboxBackbone(string dataDirectory)
    {
        var sandbox = Path.Combine(dataDirectory, "sandbox");
        var certificate = Path.Combine(sandbox, "backbone.pem");
        AnsiConsole.MarkupLine($"[grey]signing as the sandbox backbone: {Markup.Escape(certificate)}[/]");
        return PemCredentials.Load(certificate, Path.Combine(sandbox, "backbone-key.pem"));
    }

    /// <summary>A throwaway authority and backbone certificate, made once in <paramref name="folder"/> and kept for the endpoint to trust.</summary>
    private static X509Certificate2 ThrowawayBackbone(string folder)
    {
        Directory.CreateDirectory(folder);
        using var authority = CertificateAuthority.LoadOrCreate(Path.Combine(folder, "ca.pem"), Path.Combine(folder, "ca-key.pem"), "Halfhour conformance CA", TimeProvider.System);
        var certificate = Path.Combine(folder, "backbone.pem");
        var key = Path.Combine(folder, "backbone-key.pem");
        if (!File.Exists(certificate) || !File.Exists(key))
        {
            var issued = authority.IssueBackboneCertificate("Halfhour conformance backbone");
            File.WriteAllText(key, issued.PrivateKeyPem);
            File.WriteAllText(certificate, issued.CertificatePem);
            issued.Certificate.Dispose();
        }

        AnsiConsole.MarkupLine($"[yellow]signing as a throwaway backbone; trust its certificate {Markup.Escape(Path.Combine(folder, "backbone.pem"))} " +
            $"(issued by the CA {Markup.Escape(Path.Combine(folder, "ca.pem"))}) in the endpoint for the signed checks to pass:[/]");
        AnsiConsole.WriteLine(authority.Certificate.ExportCertificatePem());
        return PemCredentials.Load(certificate, key);
    }

    /// <summary>A certificate no endpoint trusts as the backbone's: from an authority made for this run alone.</summary>
    private static X509Certificate2 Forger(string folder)
    {
        var forgery = Path.Combine(folder, "forger");
        Directory.CreateDirectory(forgery);
        using var authority = CertificateAuthority.LoadOrCreate(Path.Combine(forgery, "ca.pem"), Path.Combine(forgery, "ca-key.pem"), "Forger CA", TimeProvider.System);
        return authority.IssueBackboneCertificate("Halfhour conformance forger").Certificate;
    }
}
