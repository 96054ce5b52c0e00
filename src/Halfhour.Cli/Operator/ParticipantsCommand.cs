using System.CommandLine;
using System.Text.Json;
using Halfhour.Cli.Messaging;
using Halfhour.Client.Transport;

namespace Halfhour.Cli.Operator;

/// <summary>
/// <c>halfhour participants list|add|rotate</c>: the operator's participant administration through the operator API,
/// with the key from <c>DATA/sandbox/operator-api-key.txt</c>. Issued secrets are written to files (mode 0600), never printed.
/// </summary>
internal static class ParticipantsCommand
{
    private static readonly Option<string?> OperatorKey = new("--operator-key") { Description = "The operator API key; default: DATA/sandbox/operator-api-key.txt." };
    private static readonly Option<string> Environment = new("--environment") { Description = "The environment: DEV, SIT, UIT, SITB or PRD.", DefaultValueFactory = _ => "DEV" };
    private static readonly Option<string> DipId = new("--dip-id") { Description = "The participant's 10-digit DIP ID.", Required = true };
    private static readonly Option<DirectoryInfo?> Out = new("--out")
    {
        Description = "Where to write the issued cert.pem, key.pem and api-key.txt; default DATA/issued/ENVIRONMENT-DIPID.",
    };

    public static Command Create()
    {
        var command = new Command("participants",
            "Administer participants through the operator API: list them, register one (a certificate and API key issued by the backbone's authority), " +
            "rotate one's credentials.\n\n" +
            "Examples:\n" +
            "  ./halfhour participants list\n" +
            "  ./halfhour participants add --dip-id 1234567890 --role SUP --mpid ABCD --name \"Example Energy\"\n" +
            "  ./halfhour participants rotate --dip-id 1234567890 --retire-previous");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Add());
        command.Subcommands.Add(Rotate());
        return command;
    }

    private static Command List()
    {
        var all = new Option<bool>("--all-environments") { Description = "List every environment, not only --environment." };
        var list = new Command("list", "List registered participants: DIP ID, role, MPID, name, certificates and API keys held.");
        AddCommon(list);
        list.Options.Add(Environment);
        list.Options.Add(all);
        list.SetAction((parsed, cancellationToken) => ParticipantOptions.RunAsync("participants list", parsed, async () =>
        {
            using var client = Operator(parsed);
            var participants = await client.ListAsync(parsed.GetValue(all) ? null : parsed.GetValue(Environment), cancellationToken);
            if (parsed.GetValue(ParticipantOptions.Json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(participants, ParticipantOptions.Output));
                return ParticipantOptions.Done;
            }

            foreach (var p in participants.OrderBy(p => p.Environment, StringComparer.Ordinal).ThenBy(p => p.DipId, StringComparer.Ordinal))
            {
                Console.Out.WriteLine($"{p.Environment,-4} {p.DipId}  {p.Role,-5} {p.Mpid,-4}  {p.Name}  ({p.Certificates.Count} certificate(s), {p.ApiKeys} API key(s))");
            }

            Console.Out.WriteLine($"{participants.Count} participant(s)");
            return ParticipantOptions.Done;
        }));
        return list;
    }

    private static Command Add()
    {
        var role = new Option<string>("--role") { Description = "The role code: SUP, LDSO, REGS, SDS, ADS, UMSDS, MSS, MSA, UMSO, LSS, MDS, ISD …", Required = true };
        var mpid = new Option<string>("--mpid") { Description = "The four-letter MPID.", Required = true };
        var name = new Option<string>("--name") { Description = "The organisation's name.", Required = true };
        var certificate = new Option<FileInfo?>("--certificate") { Description = "The participant's own certificate (PEM, issued by the backbone's authority) instead of a new one." };
        var add = new Command("add", "Register a participant; the backbone issues its API key and, unless --certificate is given, a certificate and key, written under --out.");
        AddCommon(add);
        add.Options.Add(Environment);
        add.Options.Add(DipId);
        add.Options.Add(role);
        add.Options.Add(mpid);
        add.Options.Add(name);
        add.Options.Add(certificate);
        add.Options.Add(Out);
        add.SetAction((parsed, cancellationToken) => ParticipantOptions.RunAsync("participants add", parsed, async () =>
        {
            using var client = Operator(parsed);
            var pem = parsed.GetValue(certificate) is { } file ? await File.ReadAllTextAsync(file.FullName, cancellationToken) : null;
            var issued = await client.RegisterAsync(parsed.GetValue(DipId)!, parsed.GetValue(role)!, parsed.GetValue(mpid)!, parsed.GetValue(name)!,
                parsed.GetValue(Environment)!, pem, cancellationToken);
            Report(parsed, "registered", issued);
            return ParticipantOptions.Done;
        }));
        return add;
    }

    private static Command Rotate()
    {
        var retire = new Option<bool>("--retire-previous") { Description = "Retire the participant's other certificates and API keys at once." };
        var rotate = new Command("rotate", "Issue a participant a new API key and certificate, keeping the old ones unless --retire-previous; written under --out.");
        AddCommon(rotate);
        rotate.Options.Add(Environment);
        rotate.Options.Add(DipId);
        rotate.Options.Add(retire);
        rotate.Options.Add(Out);
        rotate.SetAction((parsed, cancellationToken) => ParticipantOptions.RunAsync("participants rotate", parsed, async () =>
        {
            using var client = Operator(parsed);
            var issued = await client.RotateAsync(parsed.GetValue(Environment)!, parsed.GetValue(DipId)!, parsed.GetValue(retire), cancellationToken: cancellationToken);
            Report(parsed, "rotated", issued);
            return ParticipantOptions.Done;
        }));
        return rotate;
    }

    private static void AddCommon(Command command)
    {
        command.Options.Add(ParticipantOptions.Data);
        command.Options.Add(ParticipantOptions.Url);
        command.Options.Add(ParticipantOptions.Json);
        command.Options.Add(OperatorKey);
    }

    private static OperatorClient Operator(ParseResult parsed)
    {
        var sandbox = ParticipantOptions.Sandbox(parsed);
        return new OperatorClient(parsed.GetValue(ParticipantOptions.Url)!, PrivateCaTrust.FromPemFile(sandbox.AuthorityCertificatePath),
            parsed.GetValue(OperatorKey) ?? sandbox.OperatorKey());
    }

    /// <summary>Writes the issued secrets to files only its owner can read and says where they are.</summary>
    private static void Report(ParseResult parsed, string what, IssuedCredentials issued)
    {
        var dipId = parsed.GetValue(DipId)!;
        var environment = parsed.GetValue(Environment)!;
        var directory = parsed.GetValue(Out)?.FullName ?? Path.Combine(parsed.GetValue(ParticipantOptions.Data)!.FullName, "issued", $"{environment}-{dipId}");
        Directory.CreateDirectory(directory);
        var certificate = Write(directory, "cert.pem", issued.CertificatePem);
        var key = issued.PrivateKeyPem is { } pem ? Write(directory, "key.pem", pem) : null;
        var apiKey = Write(directory, "api-key.txt", issued.ApiKey + "\n");
        if (parsed.GetValue(ParticipantOptions.Json))
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new { participant = issued.Participant, certificate, privateKey = key, apiKey }, ParticipantOptions.Output));
            return;
        }

        Console.Out.WriteLine($"{what} {environment} {dipId}: certificate {certificate}{(key is null ? "" : $", key {key}")}, API key {apiKey}");
    }

    private static string Write(string directory, string name, string text)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllText(path, text);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }
}
