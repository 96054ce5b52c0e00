using System.CommandLine;
using System.Net;
using System.Text.Json;
using Halfhour.Client.AspNetCore;
using Halfhour.Client.Messages;
using Halfhour.Client.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace Halfhour.Cli.Messaging;

/// <summary><c>halfhour receive</c>: pulls a sandbox participant's messages and prints them, or runs a local webhook that prints what the backbone pushes.</summary>
internal static class ReceiveCommand
{
    public static Command Create()
    {
        var ack = new Option<bool>("--ack") { Description = "Acknowledge what was printed; unacknowledged messages come back after the visibility timeout." };
        var follow = new Option<bool>("--follow") { Description = "Keep polling until Ctrl+C instead of stopping after one fetch." };
        var max = new Option<int>("--max") { Description = "Messages per fetch (1 to 1000).", DefaultValueFactory = _ => 100 };
        var wait = new Option<int>("--wait") { Description = "Seconds a fetch waits for the first message (0 to 60).", DefaultValueFactory = _ => 5 };
        var webhook = new Option<int?>("--webhook")
        {
            Description = "Instead of pulling, listen on http://127.0.0.1:PORT/hook, register it as the participant's webhook for the channel, " +
                          "print every push that carries the backbone's signature, and remove the registration on Ctrl+C.",
        };
        var command = new Command("receive",
            "Receive a sandbox participant's messages on a channel: pull and print them (text, or one JSON object per line with --json), " +
            "or run a local webhook with --webhook PORT.\n\n" +
            "Examples:\n" +
            "  ./halfhour receive --as SUP --channel IF-021 --ack\n" +
            "  ./halfhour receive --as SUP --channel IF-021 --follow --ack --json\n" +
            "  ./halfhour receive --as LDSO --channel IF-021 --webhook 9000");
        ParticipantOptions.AddTo(command);
        command.Options.Add(ack);
        command.Options.Add(follow);
        command.Options.Add(max);
        command.Options.Add(wait);
        command.Options.Add(webhook);
        command.SetAction((parsed, cancellationToken) => ParticipantOptions.RunAsync("receive", parsed, async () =>
        {
            using var client = ParticipantOptions.Client(parsed);
            var channel = parsed.GetValue(ParticipantOptions.Channel)!;
            var json = parsed.GetValue(ParticipantOptions.Json);
            if (parsed.GetValue(webhook) is { } port)
            {
                return await RunWebhookAsync(client, ParticipantOptions.Sandbox(parsed).BackboneCertificatePath, channel, port, json, cancellationToken);
            }

            try
            {
                do
                {
                    var fetched = await client.FetchAsync(channel, parsed.GetValue(max), TimeSpan.FromSeconds(parsed.GetValue(wait)), cancellationToken);
                    foreach (var message in fetched) Print(message, json);
                    if (parsed.GetValue(ack) && fetched.Count > 0)
                    {
                        var acknowledged = await client.AcknowledgeAsync(channel, fetched.Select(m => m.Receipt), CancellationToken.None);
                        if (!json) Console.Out.WriteLine($"acknowledged {acknowledged} of {fetched.Count}");
                    }
                    else if (!json && fetched.Count == 0 && !parsed.GetValue(follow))
                    {
                        Console.Out.WriteLine($"no messages for {client.Options.DipId} on {channel}");
                    }
                }
                while (parsed.GetValue(follow) && !cancellationToken.IsCancellationRequested);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }

            return ParticipantOptions.Done;
        }));
        return command;
    }

    /// <summary>Prints one message: a line of text, or the fetched record as one JSON line.</summary>
    public static void Print(ReceivedMessage received, bool json)
    {
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                receipt = received.Receipt, transactionID = received.TransactionId, deliveryCount = received.DeliveryCount, message = received.Message.Json,
            }, ParticipantOptions.Output));
            return;
        }

        Console.Out.WriteLine($"{Describe(received.Message)}  delivery {received.DeliveryCount}");
    }

    /// <summary>One line about a message: transaction, interface, event, MPAN, sender, replay mark.</summary>
    public static string Describe(DipMessage m) =>
        $"{m.TransactionId ?? "-"}  {m.InterfaceId} {m.EventCode}  MPAN {m.Mpan ?? "-"}  from {m.SenderDipId} ({m.SenderRole}){(m.IsReplay ? "  replay" : "")}";

    private static async Task<int> RunWebhookAsync(DipClient client, string backboneCertificate, string channel, int port, bool json, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        await using var app = builder.Build();
        var printing = new Lock();
        app.MapDipWebhook("/hook", DipWebhookOptions.FromBackboneCertificate(backboneCertificate), (message, _) =>
        {
            lock (printing)
            {
                Console.Out.WriteLine(json ? message.ToString() : Describe(message));
            }

            return Task.CompletedTask;
        });
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            throw new IOException($"cannot listen on 127.0.0.1:{port}: {e.Message}; choose another --webhook port.", e);
        }

        var url = new Uri($"http://127.0.0.1:{port}/hook");
        await client.RegisterWebhookAsync(channel, url, cancellationToken: cancellationToken);
        if (!json) Console.Out.WriteLine($"listening on {url} for {client.Options.DipId}'s {channel} messages; Ctrl+C stops and removes the webhook");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }

        await client.RemoveWebhookAsync(channel, CancellationToken.None);
        await app.StopAsync(CancellationToken.None);
        return ParticipantOptions.Done;
    }
}
