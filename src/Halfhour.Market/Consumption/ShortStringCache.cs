using System.Text;

namespace Halfhour.Market.Consumption;

/// <summary>
/// The strings of the few values that recur in every message (DIP IDs, role codes), kept per thread in a small
/// direct-mapped table so the facts of a message reuse them instead of allocating each time. A collision simply
/// replaces the slot: correctness never depends on a hit.
/// </summary>
internal static class ShortStringCache
{
    // The market has about 400 DIP IDs per environment; 2,048 slots keep collisions rare at 16 KB per thread.
    private const int Slots = 2048;

    // DIP IDs are 10 characters and role codes up to 5; longer values vary per message and are not worth keeping.
    private const int MaxLength = 16;

    [ThreadStatic]
    private static string?[]? _slots;

    /// <summary>The string of <paramref name="utf8"/>, from the cache when it was seen on this thread before.</summary>
    public static string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxLength || !Ascii.IsValid(utf8))
        {
            return Encoding.UTF8.GetString(utf8);
        }

        var hash = 2166136261u;
        foreach (var b in utf8)
        {
            hash = (hash ^ b) * 16777619u;
        }

        var slots = _slots ??= new string?[Slots];
        ref var slot = ref slots[hash % Slots];
        if (slot is null || !Ascii.Equals(utf8, slot))
        {
            slot = Encoding.ASCII.GetString(utf8);
        }

        return slot;
    }
}
