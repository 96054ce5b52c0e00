namespace Halfhour.Market.Routing;

/// <summary>
/// The recipients of one message as the DIP's A0 block lists them: primary (the sender's), secondary and always (the
/// backbone's). Each DIP ID appears once across the three lists and never as the sender. Reusable: the router clears
/// it for each message, so routing allocates nothing once the lists have grown to the market's size.
/// </summary>
public sealed class RoutedRecipients
{
    private readonly List<string> _primary = [];
    private readonly List<string> _secondary = [];
    private readonly List<string> _always = [];
    private readonly HashSet<string> _listed = new(StringComparer.Ordinal);
    private string? _sender;

    /// <summary>The sender's primary recipients, as validated.</summary>
    public IReadOnlyList<string> Primary => _primary;

    /// <summary>The parties of the message's metering point the backbone adds (LDSO, appointed supplier and services).</summary>
    public IReadOnlyList<string> Secondary => _secondary;

    /// <summary>The participants of the central receiving roles (or of every receiving role for a message about no MPAN).</summary>
    public IReadOnlyList<string> Always => _always;

    /// <summary>The number of recipients in the three lists together.</summary>
    public int Count => _primary.Count + _secondary.Count + _always.Count;

    internal void Reset(string? sender)
    {
        _primary.Clear();
        _secondary.Clear();
        _always.Clear();
        _listed.Clear();
        _sender = sender;
    }

    internal void AddPrimary(string dipId) => Add(_primary, dipId);

    internal void AddSecondary(string dipId) => Add(_secondary, dipId);

    internal void AddAlways(string dipId) => Add(_always, dipId);

    private void Add(List<string> list, string dipId)
    {
        if (!string.Equals(dipId, _sender, StringComparison.Ordinal) && _listed.Add(dipId))
        {
            list.Add(dipId);
        }
    }
}
