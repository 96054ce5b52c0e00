using System.CommandLine;
using System.Text.Json;
using Halfhour.Client.Transport;

namespace Halfhour.Cli.Messaging;

/// <summary>
/// <c>halfhour replay</c> (the participant's own messages of a channel again, in pages, marked replayed) and
/// <c>halfhour requeue</c> (pushed again to its webhook), with <c>requeue status</c>; both take the DIP's filters.
/// </summary>
internal static class ReplayCommands
{
    private static readonly Option<DateTimeOffset?> From = new("--from") { Description = "Accepted at or after (e.g. 2026-11-27T09:00:00Z)." };
    private static readonly Option<DateTimeOffset?> To = new("--to") { Description = "Accepted at or before." };
    private static readonly Option<string?> EventCode = new("--event-code") { Description = "Only this event code, e.g. [ActivePower]." };
    private static readonly Option<string?> Mpan = new("--mpan") { Description = "Only this MPAN core." };
    private static readonly Option<string[]> TransactionIds = new("--transaction-id") { Description = "Only these transaction IDs (repeatable, up to 100).", AllowMultipleArgumentsPerToken = true };

    public static Command Replay()
    {
        var command = new Command("replay",
            "Replay a sandbox participant's messages of a channel — only what was routed to it — and print them (marked replayed).\n\n" +
            "Examples:\n" +
            "  ./halfhour replay --as SUP --channel IF-021 --mpan 1012345678903\n" +
            "  ./halfhour replay --as SUP --channel IF-021 --from 2026-11-27T00:00:00Z --json");
        ParticipantOptions.AddTo(command);
        AddFilters(command);
        command.SetAction((parsed, cancellationToken) => ParticipantOptions.RunAsync("replay", parsed, async () =>
        {
            using var client = ParticipantOptions.Client(parsed);
            var json = parsed.GetValue(ParticipantOptions.Json);
            var count = 0;
            await foreach (var message in client.ReplayAsync(parsed.GetValue(ParticipantOptions.Channel)!, Query(parsed), cancellationToken))
            {
                Console.Out.WriteLine(json ? message.ToString() : ReceiveCommand.Describe(message));
                count++;
            }

            if (!json) Console.Out.WriteLine($"{count} message(s) replayed");
            return ParticipantOptions.Done;
        }));
        return command;
    }

    public static Command Requeue()
    {
        var command = new Command("requeue",
            "Ask the backbone to push a sandbox participant's messages of a channel to its webhook again (marked replayed); prints the requeue ID. " +
            "Follow it with `requeue status`.\n\n" +
            "Examples:\n" +
            "  ./halfhour requeue --as LDSO --channel IF-021 --from 2026-11-27T00:00:00Z\n" +
            "  ./halfhour requeue status --as LDSO --channel IF-021");
        ParticipantOptions.AddTo(command);
        AddFilters(command);
        command.SetAction((parsed, cancellationToken) => ParticipantOptions.RunAsync("requeue", parsed, async () =>
        {
            using var client = ParticipantOptions.Client(parsed);
            var id = await client.RequeueAsync(parsed.GetValue(ParticipantOptions.Channel)!, Query(parsed), cancellationToken);
            Console.Out.WriteLine(parsed.GetValue(ParticipantOptions.Json) ? JsonSerializer.Serialize(new { requeueId = id }, ParticipantOptions.Output) : $"requeue {id} started");
            return ParticipantOptions.Done;
        }));

        var requeueId = new Option<string?>("--id") { Description = "Only this requeue." };
        var status = new Command("status", "Show how far a sandbox participant's requeues on a channel have got.");
        ParticipantOptions.AddTo(status);
        status.Options.Add(requeueId);
        status.SetAction((parsed, cancellationToken) => ParticipantOptions.RunAsync("requeue status", parsed, async () =>
        {
            using var client = ParticipantOptions.Client(parsed);
            var statuses = await client.RequeueStatusAsync(parsed.GetValue(ParticipantOptions.Channel)!, parsed.GetValue(requeueId), cancellationToken);
            if (parsed.GetValue(ParticipantOptions.Json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(statuses, ParticipantOptions.Output));
            }
            else if (statuses.Count == 0)
            {
                Console.Out.WriteLine("no requeues");
            }
            else
            {
                foreach (var s in statuses)
                {
                    Console.Out.WriteLine($"{s.RequeueId}  {s.Status}  {s.ProcessedTransactions}/{s.TotalTransactions} ({s.PercentComplete:0.#} %){(s.Detail is null ? "" : "  " + s.Detail)}");
                }
            }

            return ParticipantOptions.Done;
        }));
        command.Subcommands.Add(status);
        return command;
    }

    private static void AddFilters(Command command)
    {
        command.Options.Add(From);
        command.Options.Add(To);
        command.Options.Add(EventCode);
        command.Options.Add(Mpan);
        command.Options.Add(TransactionIds);
    }

    private static MessageQuery Query(ParseResult parsed) => new(parsed.GetValue(From), parsed.GetValue(To), parsed.GetValue(EventCode), parsed.GetValue(Mpan),
        parsed.GetValue(TransactionIds) is { Length: > 0 } ids ? ids : null);
}
