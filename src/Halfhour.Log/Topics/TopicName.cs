namespace Halfhour.Log.Topics;

/// <summary>
/// Rules for topic names: 1 to 200 characters of <c>[A-Za-z0-9._-]</c>, starting with a letter or
/// digit, so a name is always a safe, portable directory name (no separators, no "." or "..").
/// </summary>
public static class TopicName
{
    /// <summary>The longest name: leaves room under the common 255-byte file-name limit.</summary>
    public const int MaxLength = 200;

    /// <summary>True when <paramref name="name"/> follows the rules.</summary>
    public static bool IsValid(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxLength || !char.IsAsciiLetterOrDigit(name[0]))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '.' && c != '_' && c != '-')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the rule when <paramref name="name"/> breaks it.</summary>
    public static void Validate(string? name, string parameterName = "topic")
    {
        if (!IsValid(name))
        {
            throw new ArgumentException($"Topic name '{name}' is invalid: use 1-{MaxLength} characters of A-Z a-z 0-9 . _ -, starting with a letter or digit.", parameterName);
        }
    }
}
