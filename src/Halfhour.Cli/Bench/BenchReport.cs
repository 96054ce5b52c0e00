using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Halfhour.Cli.Bench;

/// <summary>
/// The figures of one benchmark suite, printed as a table and written as JSON of the form
/// <c>{"suite":NAME,"figures":{NAME:{"value":NUMBER,"unit":TEXT}}}</c>, so runs can be compared by tools.
/// </summary>
public sealed class BenchReport(string suite)
{
    private readonly List<(string Name, double Value, string Unit, string? Note)> _figures = [];
    private readonly List<string> _notes = [];

    /// <summary>The suite's name, as written in the JSON.</summary>
    public string Suite { get; } = suite;

    /// <summary>Records one figure; a later figure of the same name replaces the earlier one.</summary>
    public void Add(string name, double value, string unit, string? note = null)
    {
        _figures.RemoveAll(f => f.Name == name);
        _figures.Add((name, value, unit, note));
    }

    /// <summary>Adds a line printed under the table (conditions of the run, caveats).</summary>
    public void Note(string text) => _notes.Add(text);

    /// <summary>The value of a recorded figure.</summary>
    public double this[string name] => _figures.First(f => f.Name == name).Value;

    /// <summary>Prints the table, then writes the JSON file when one was asked for.</summary>
    public async Task PublishAsync(FileInfo? json, CancellationToken cancellationToken = default)
    {
        var table = new Table().Title($"bench {Suite}").AddColumn("figure").AddColumn(new TableColumn("value").RightAligned()).AddColumn("unit").AddColumn("note");
        foreach (var (name, value, unit, note) in _figures)
        {
            table.AddRow(Markup.Escape(name), value.ToString(Math.Abs(value) >= 100 ? "N0" : "0.###", CultureInfo.InvariantCulture), Markup.Escape(unit), Markup.Escape(note ?? ""));
        }

        AnsiConsole.Write(table);
        foreach (var note in _notes)
        {
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape(note)}[/]");
        }

        if (json is null)
        {
            return;
        }

        await using var stream = json.Create();
        await using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        writer.WriteStartObject();
        writer.WriteString("suite", Suite);
        writer.WriteStartObject("figures");
        foreach (var (name, value, unit, _) in _figures)
        {
            writer.WriteStartObject(name);
            writer.WriteNumber("value", double.IsFinite(value) ? value : 0);
            writer.WriteString("unit", unit);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        if (_notes.Count > 0)
        {
            writer.WriteStartArray("notes");
            foreach (var note in _notes)
            {
                writer.WriteStringValue(note);
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken);
        AnsiConsole.MarkupLine($"[grey]figures written to {Markup.Escape(json.FullName)}[/]");
    }
}
