using System.CommandLine;
using System.Text.Json;
using Halfhour.Market.Envelope;
using Halfhour.Market.Validation;
using Spectre.Console;
using ValidationResult = Halfhour.Market.Validation.ValidationResult;

namespace Halfhour.Cli.Validate;

/// <summary><c>halfhour validate [--json] FILE...</c>: validates files of DIP messages offline against the catalogue.</summary>
public static class ValidateCommand
{
    /// <summary>Exit code when every message is valid.</summary>
    private const int AllValid = 0;

    /// <summary>Exit code when any message is not valid.</summary>
    private const int SomeInvalid = 1;

    /// <summary>Exit code when a file cannot be read at all.</summary>
    private const int Unreadable = 2;

    /// <summary>Builds the <c>validate</c> command.</summary>
    public static Command Create()
    {
        var files = new Argument<FileInfo[]>("files")
        {
            Description = "Files holding one message {\"payload\":…} or a DIP array of them.",
            Arity = ArgumentArity.OneOrMore,
        };
        var json = new Option<bool>("--json") { Description = "Print the results as JSON instead of a table." };
        var command = new Command("validate", "Validate DIP messages offline against the interface catalogue: schema, event code and version, MPAN check digits, date-times. Exit 0 when all are valid, 1 when any is not, 2 when a file cannot be read.");
        command.Arguments.Add(files);
        command.Options.Add(json);
        command.SetAction((ParseResult parse) => Run(parse.GetValue(files) ?? [], parse.GetValue(json)));
        return command;
    }

    private static int Run(FileInfo[] files, bool asJson)
    {
        var validator = new MessageValidator();
        var facts = new MessageFacts();
        var rows = new List<Row>();
        var exit = AllValid;
        foreach (var file in files)
        {
            byte[] body;
            try
            {
                body = File.ReadAllBytes(file.FullName);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"halfhour validate: cannot read {file.FullName}: {e.Message}");
                exit = Unreadable;
                continue;
            }

            var messages = new List<Range>();
            if (!MessageBatch.TrySplit(body, messages))
            {
                rows.Add(new Row(file.Name, 0, null, null, ValidationResult.Fail(MessageCode.MalformedMessage, "", "json:syntax",
                    "The file is neither a message {\"payload\":…} nor a JSON array of them.")));
                exit = Math.Max(exit, SomeInvalid);
                continue;
            }

            for (var i = 0; i < messages.Count; i++)
            {
                var result = validator.Validate(body.AsSpan()[messages[i]], facts);
                rows.Add(new Row(file.Name, i, facts.InterfaceId, facts.EventCode, result));
                if (!result.IsValid)
                {
                    exit = Math.Max(exit, SomeInvalid);
                }
            }
        }

        if (asJson)
        {
            WriteJson(rows);
        }
        else
        {
            WriteTable(rows);
        }

        return exit;
    }

    private static void WriteTable(List<Row> rows)
    {
        var table = new Table().AddColumns("file", "#", "interface", "event", "result", "pointer", "detail");
        foreach (var row in rows)
        {
            var result = row.Result;
            table.AddRow(
                Markup.Escape(row.File),
                row.Index.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(row.InterfaceId ?? "-"),
                Markup.Escape(row.EventCode ?? "-"),
                result.IsValid ? "[green]" + MessageCodes.Display(result.Code) + "[/]" : "[red]" + Markup.Escape(MessageCodes.Display(result.Code)) + "[/]",
                Markup.Escape(result.Pointer ?? ""),
                Markup.Escape(result.Detail ?? ""));
        }

        AnsiConsole.Write(table);
        var invalid = rows.Count(r => !r.Result.IsValid);
        AnsiConsole.MarkupLine($"{rows.Count} message(s), {rows.Count - invalid} valid, {invalid} not valid.");
    }

    private static void WriteJson(List<Row> rows)
    {
        using var stdout = Console.OpenStandardOutput();
        using var writer = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true });
        writer.WriteStartArray();
        foreach (var row in rows)
        {
            var result = row.Result;
            writer.WriteStartObject();
            writer.WriteString("file", row.File);
            writer.WriteNumber("index", row.Index);
            writer.WriteString("interfaceID", row.InterfaceId);
            writer.WriteString("eventCode", row.EventCode);
            writer.WriteString("code", MessageCodes.Code(result.Code));
            writer.WriteString("text", MessageCodes.Text(result.Code));
            writer.WriteString("pointer", result.Pointer);
            writer.WriteString("rule", result.Rule);
            writer.WriteString("detail", result.Detail);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.Flush();
        stdout.WriteByte((byte)'\n');
    }

    private sealed record Row(string File, int Index, string? InterfaceId, string? EventCode, ValidationResult Result);
}
