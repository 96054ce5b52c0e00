using System.Text;
using Halfhour.Market.Consumption;

namespace Halfhour.Cli.Tests;

/// <summary><c>halfhour validate</c> as an operator runs it: the built program, real files, exit codes.</summary>
public sealed class ValidateCommandTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("halfhour-validate-").FullName;

    [Fact]
    public async Task Valid_messages_exit_0()
    {
        var file = Write("valid.json", Array(new ConsumptionMessageBuilder().Build(1), new ConsumptionMessageBuilder().Build(2)));
        var (code, output) = await RunAsync("validate", file);
        Assert.True(code == 0, output);
        Assert.Contains("MSG0000", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_message_exits_1_and_names_the_field_and_the_rule()
    {
        var bad = Encoding.UTF8.GetString(new ConsumptionMessageBuilder().Build(3)).Replace("\"periodDuration\":30", "\"periodDuration\":15", StringComparison.Ordinal);
        var file = Write("invalid.json", Encoding.UTF8.GetBytes(bad));
        var (code, output) = await RunAsync("validate", "--json", file);
        Assert.True(code == 1, output);
        Assert.Contains("periodDuration", output, StringComparison.Ordinal);
        Assert.Contains("MSG1001", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreadable_file_exits_2()
    {
        var (code, output) = await RunAsync("validate", Path.Combine(_directory, "missing.json"));
        Assert.True(code == 2, output);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Write(string name, byte[] content)
    {
        var path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, content);
        return path;
    }

    private static byte[] Array(params byte[][] messages)
        => Encoding.UTF8.GetBytes("[" + string.Join(",", messages.Select(m => Encoding.UTF8.GetString(m))) + "]");

    private static async Task<(int Code, string Output)> RunAsync(params string[] arguments)
    {
        var (code, output, errors) = await CliProcess.RunAsync(arguments);
        return (code, output + errors);
    }
}
