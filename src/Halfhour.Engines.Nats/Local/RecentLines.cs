using System.Globalization;

namespace Halfhour.Engines.Nats.Local;

/// <summary>
/// The last lines a child process printed (and the marks its owner adds: started, killed), each stamped with the time
/// this process read it, kept to explain a failure after the fact.
/// </summary>
/// <param name="capacity">How many lines are kept.</param>
/// <param name="name">Names the process; when <c>HALFHOUR_TEST_LOGS</c> names a directory, every line is also appended
/// to <c>NAME.log</c> there (a diagnosis aid: everything a failover test's processes printed, across restarts).</param>
public sealed class RecentLines(int capacity, string name)
{
    private readonly Queue<string> _lines = new();
    private readonly string? _copy = Environment.GetEnvironmentVariable("HALFHOUR_TEST_LOGS") is { Length: > 0 } logs ? Path.Combine(logs, name + ".log") : null;

    /// <summary>Keeps <paramref name="line"/> (nothing for null, the end of a stream).</summary>
    public void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        var stamped = DateTime.UtcNow.ToString("HH:mm:ss.fff ", CultureInfo.InvariantCulture) + line;
        lock (_lines)
        {
            _lines.Enqueue(stamped);
            while (_lines.Count > capacity)
            {
                _lines.Dequeue();
            }

            if (_copy is not null)
            {
                File.AppendAllText(_copy, stamped + "\n");
            }
        }
    }

    /// <summary>The kept lines, oldest first, one per line.</summary>
    public override string ToString()
    {
        lock (_lines)
        {
            return string.Join('\n', _lines);
        }
    }
}
