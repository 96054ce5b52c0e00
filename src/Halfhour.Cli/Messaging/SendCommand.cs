using System.CommandLine;
using System.Text.Json;
using Halfhour.Client.Messages;
using Halfhour.Client.Transport;

namespace Halfhour.Cli.Messaging;

/// <summary><c>halfhour send</c>: sends DIP messages from files or stdin as a sandbox participant, signed, and prints a result per message.</summary>
internal static class SendCommand
{
    public static Command Create()
    {
        var files = new Argument<FileInfo[]>("files")
        {
            Description = "Files holding one message {\"payload\":…} or a DIP array of them; none or '-' reads stdin.",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var channel = new Option<string?>("--channel")
        {
            Description = "Send every file, exactly as it is, on this channel (IF-021 …); by default each message goes to the channel of its S0.interfaceID, in arrays of up to 100.",
        };
        var command = new Command("send",
            "Send DIP messages as a sandbox participant: mutual TLS with its certificate, each request signed, retried safely " +
            "(same sender unique reference, so a retry never stores twice). Prints one result per message: the code " +
            "(MSG0000 accepted, MSG0001 already accepted, others refused with help) and the transaction ID. " +
            "Exit 0 when all were accepted, 1 when any was refused, 2 when nothing could be sent.\n\n" +
            "Examples:\n" +
            "  ./halfhour send --as SDS consumption.json\n" +
            "  cat batch.json | ./halfhour send --as 9900000004 --json\n" +
            "  ./halfhour send --as SDS --channel IF-021 --url https://127.0.0.1:9443 a.json b.json");
        command.Arguments.Add(files);
        ParticipantOptions.AddTo(command, channel: false);
        command.Options.Add(channel);
        command.SetAction((parsed, cancellationToken) => ParticipantOptions.RunAsync("send", parsed, async () =>
        {
            var inputs = parsed.GetValue(files) is { Length: > 0 } given ? given : [new FileInfo("-")];
            using var client = ParticipantOptions.Client(parsed);
            var results = new List<MessageResult>();
            foreach (var input in inputs)
            {
                var body = await ReadAsync(input, cancellationToken);
                if (parsed.GetValue(channel) is { Length: > 0 } raw)
                {
                    results.AddRange((await client.SendRawAsync(raw, body, cancellationToken)).Messages);
                    continue;
                }

                IReadOnlyList<DipMessage> messages;
                try
                {
                    messages = DipMessage.ParseMany(body);
                }
                catch (Exception e) when (e is JsonException or FormatException)
                {
                    throw new FormatException($"{Name(input)} is not a DIP message or array of messages: {e.Message}", e);
                }

                results.AddRange((await client.SendAsync(messages, cancellationToken)).Messages);
            }

            Print(results, parsed.GetValue(ParticipantOptions.Json));
            return results.All(r => r.Accepted) ? ParticipantOptions.Done : ParticipantOptions.SomeRefused;
        }));
        return command;
    }

    private static async Task<byte[]> ReadAsync(FileInfo input, CancellationToken cancellationToken)
    {
        if (input.Name == "-")
        {
            using var stdin = Console.OpenStandardInput();
            using var buffer = new MemoryStream();
            await stdin.CopyToAsync(buffer, cancellationToken);
            return buffer.ToArray();
        }

        return File.Exists(input.FullName)
            ? await File.ReadAllBytesAsync(input.FullName, cancellationToken)
            : throw new FileNotFoundException($"There is no file {input.FullName}.", input.FullName);
    }

    private static string Name(FileInfo input) => input.Name == "-" ? "stdin" : input.FullName;

    private static void Print(IReadOnlyList<MessageResult> results, bool json)
    {
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(results, ParticipantOptions.Output));
            return;
        }

        for (var i = 0; i < results.Count; i++)
        {
            var r = results[i];
            Console.Out.WriteLine($"{i,4}  {r.Channel}  {r.Text}  {r.TransactionId ?? "-"}  {r.SenderUniqueReference}");
            if (r.Help is { Length: > 0 } help) Console.Out.WriteLine($"      {help}");
        }

        Console.Out.WriteLine($"{results.Count(r => r.Accepted)} of {results.Count} accepted ({results.Count(r => r.Duplicate)} already held).");
    }
}
