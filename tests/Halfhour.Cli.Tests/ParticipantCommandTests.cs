using System.Net;
using System.Text.Json.Nodes;
using Halfhour.Client.Messages;
using Halfhour.Market.Participants;
using Halfhour.Server.Tests.Backbone;

namespace Halfhour.Cli.Tests;

/// <summary>One real backbone on loopback shared by the CLI tests that talk to one.</summary>
public sealed class CliServerFixture() : BackboneServerFixture([]);

/// <summary><c>halfhour send|receive|replay|requeue|participants</c> run as processes against a real backbone, as its sandbox's participants.</summary>
public sealed class ParticipantCommandTests(CliServerFixture fixture) : IClassFixture<CliServerFixture>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("halfhour-cli-").FullName;

    private BackboneServer Server => fixture.Server;

    private string[] Connection => ["--data", Server.DataDirectory, "--url", Server.Server.BaseAddress.AbsoluteUri];

    [Fact]
    public async Task A_message_sent_from_a_file_is_received_by_its_recipient_acknowledged_and_replayed()
    {
        var sds = Server.Server.Sandbox.For(Role.SDS).Participant;
        var sup = Server.Server.Sandbox.For(Role.SUP).Participant;
        var ldso = Server.Server.Sandbox.For(Role.LDSO).Participant;
        var message = new ConsumptionMessage
        {
            Point = new MeteringPoint("1012345678903", ldso.DipId, "_A"),
            SettlementDay = new DateOnly(2025, 6, 1),
            Periods = [.. Enumerable.Repeat(0.5m, ConsumptionMessage.PeriodsPerDay)],
            Recipients = [sup.DipId],
        }.Build(new DipSender(sds.DipId, "SDS", "DEV"), DateTimeOffset.UtcNow);
        var file = Path.Combine(_directory, "consumption.json");
        await File.WriteAllTextAsync(file, message.ToString());

        var sent = await CliProcess.RunAsync(["send", .. Connection, "--as", "SDS", "--json", file]);
        var again = await CliProcess.RunAsync(["send", .. Connection, "--as", sds.DipId], stdin: $"[{message}]");
        var received = await CliProcess.RunAsync(["receive", .. Connection, "--as", "SUP", "--channel", "IF-021", "--ack", "--json", "--wait", "10"]);
        var empty = await CliProcess.RunAsync(["receive", .. Connection, "--as", "SUP", "--channel", "IF-021", "--wait", "0"]);
        var replayed = await CliProcess.RunAsync(["replay", .. Connection, "--as", "SUP", "--channel", "IF-021", "--mpan", "1012345678903"]);

        Assert.True(sent.Code == 0, sent.Output + sent.Errors);
        var result = JsonNode.Parse(sent.Output)!.AsArray().Single()!;
        Assert.Equal("MSG0000", result["code"]!.GetValue<string>());
        var transactionId = result["transactionId"]!.GetValue<string>();
        Assert.True(again.Code == 0, again.Output + again.Errors);
        Assert.Contains("MSG0001 - Duplicate - Already Accepted", again.Output, StringComparison.Ordinal);
        Assert.Contains(transactionId, again.Output, StringComparison.Ordinal); // the retry was answered with the original
        Assert.True(received.Code == 0, received.Output + received.Errors);
        var pulled = JsonNode.Parse(Assert.Single(received.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)))!;
        Assert.Equal(transactionId, pulled["transactionID"]!.GetValue<string>());
        Assert.Equal(transactionId, pulled["message"]!["payload"]!["CommonBlock"]!["D0"]!["transactionID"]!.GetValue<string>());
        Assert.Contains($"no messages for {sup.DipId} on IF-021", empty.Output, StringComparison.Ordinal); // acknowledged: gone
        Assert.True(replayed.Code == 0, replayed.Output + replayed.Errors);
        Assert.Contains($"{transactionId}  IF-021 [ActivePower]  MPAN 1012345678903  from {sds.DipId} (SDS)  replay", replayed.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Receive_with_a_webhook_prints_what_the_backbone_pushes_to_it()
    {
        var port = UnusedPort();
        var ldso = Server.Server.Sandbox.For(Role.LDSO).Participant;
        using var receiver = CliProcess.Start(["receive", .. Connection, "--as", "LDSO", "--channel", "IF-021", "--webhook", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var lines = new System.Collections.Concurrent.BlockingCollection<string>();
        receiver.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null) lines.Add(e.Data);
        };
        receiver.BeginOutputReadLine();
        var errors = receiver.StandardError.ReadToEndAsync();
        try
        {
            Assert.True(lines.TryTake(out var banner, TimeSpan.FromSeconds(60)), await Finished(receiver, errors));
            Assert.Contains($"listening on http://127.0.0.1:{port}/hook", banner, StringComparison.Ordinal);
            var sds = Server.Server.Sandbox.For(Role.SDS).Participant;
            var message = new ConsumptionMessage
            {
                Point = new MeteringPoint("1012345678903", ldso.DipId, "_A"),
                SettlementDay = new DateOnly(2025, 6, 2),
                Periods = [.. Enumerable.Repeat(0.25m, ConsumptionMessage.PeriodsPerDay)],
            }.Build(new DipSender(sds.DipId, "SDS", "DEV"), DateTimeOffset.UtcNow);
            var sent = await CliProcess.RunAsync(["send", .. Connection, "--as", "SDS", "--json"], stdin: message.ToString());
            Assert.True(sent.Code == 0, sent.Output + sent.Errors);
            var transactionId = JsonNode.Parse(sent.Output)!.AsArray().Single()!["transactionId"]!.GetValue<string>();

            var deadline = DateTime.UtcNow.AddSeconds(30);
            string? line = null;
            while (DateTime.UtcNow < deadline && (line is null || !line.Contains(transactionId, StringComparison.Ordinal)))
            {
                lines.TryTake(out line, TimeSpan.FromSeconds(1));
            }

            Assert.Equal($"{transactionId}  IF-021 [ActivePower]  MPAN 1012345678903  from {sds.DipId} (SDS)", line);
        }
        finally
        {
            receiver.Kill();
            await receiver.WaitForExitAsync();
        }
    }

    /// <summary>A loopback port nothing listens on (it was free a moment ago).</summary>
    private static int UnusedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> Finished(System.Diagnostics.Process process, Task<string> errors) =>
        process.HasExited ? $"exited {process.ExitCode}: {await errors}" : "no banner within a minute";

    [Fact]
    public async Task A_refused_message_exits_1_and_prints_the_help()
    {
        var broken = new JsonObject { ["payload"] = new JsonObject { ["CommonBlock"] = new JsonObject { ["S0"] = new JsonObject { ["interfaceID"] = "IF-021" } } } };

        var (code, output, errors) = await CliProcess.RunAsync(["send", .. Connection, "--as", "SDS"], stdin: broken.ToJsonString());

        Assert.True(code == 1, output + errors);
        Assert.Contains("MSG1", output, StringComparison.Ordinal);
        Assert.Contains("0 of 1 accepted", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_backbone_send_says_none_answers_and_how_to_start_one()
    {
        var port = UnusedPort();
        var file = Path.Combine(_directory, "m.json");
        await File.WriteAllTextAsync(file, "{\"payload\":{\"CommonBlock\":{\"S0\":{\"interfaceID\":\"IF-021\"}}}}");

        var (code, output, errors) = await CliProcess.RunAsync(["send", "--data", Server.DataDirectory, "--url", $"https://127.0.0.1:{port}", "--as", "SDS", "--retries", "1", file]);

        Assert.True(code == 2, output + errors);
        Assert.Contains($"no backbone answers at https://127.0.0.1:{port}/", errors, StringComparison.Ordinal);
        Assert.Contains("./halfhour serve", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_sandbox_the_commands_say_where_they_looked_and_how_to_create_one()
    {
        var (code, _, errors) = await CliProcess.RunAsync(["receive", "--data", _directory, "--as", "SUP", "--channel", "IF-021"]);

        Assert.Equal(2, code);
        Assert.Contains("There is no sandbox at", errors, StringComparison.Ordinal);
        Assert.Contains("./halfhour serve --data", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Participants_are_added_listed_and_rotated_through_the_operator_api()
    {
        var issued = Path.Combine(_directory, "issued");

        var added = await CliProcess.RunAsync(["participants", "add", .. Connection, "--dip-id", "1234567890", "--role", "SUP", "--mpid", "EXEN", "--name", "Example Energy", "--out", issued]);
        var twice = await CliProcess.RunAsync(["participants", "add", .. Connection, "--dip-id", "1234567890", "--role", "SUP", "--mpid", "EXEN", "--name", "Example Energy", "--out", issued]);
        var listed = await CliProcess.RunAsync(["participants", "list", .. Connection, "--json"]);
        var rotated = await CliProcess.RunAsync(["participants", "rotate", .. Connection, "--dip-id", "1234567890", "--retire-previous", "--out", issued, "--json"]);

        Assert.True(added.Code == 0, added.Output + added.Errors);
        Assert.True(File.Exists(Path.Combine(issued, "key.pem")));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(issued, "api-key.txt")));
        Assert.Equal(2, twice.Code);
        Assert.Contains("already registered", twice.Errors, StringComparison.Ordinal);
        var participant = JsonNode.Parse(listed.Output)!.AsArray().Single(p => p!["dipId"]!.GetValue<string>() == "1234567890")!;
        Assert.Equal("SUP", participant["role"]!.GetValue<string>());
        Assert.True(rotated.Code == 0, rotated.Output + rotated.Errors);
        var after = JsonNode.Parse(rotated.Output)!["participant"]!;
        Assert.Single(after["certificates"]!.AsArray()); // the previous one retired
        Assert.Equal(1, after["apiKeys"]!.GetValue<int>());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
