using System.Globalization;
using System.Text;
using Halfhour.Broker.Storage;
using NATS.Client.KeyValueStore;

namespace Halfhour.Engines.Nats.Cursors;

/// <summary>
/// Durable named cursors in a JetStream key-value bucket: one entry per cursor name holding every
/// position of that name, because KV has no multi-key transaction and a name's positions must move
/// together.
/// Failure semantics: a commit of one name is one put, replicated before it is acknowledged, so after
/// any crash a name reads as all-old or all-new, never a mix. Two writers of one name race through
/// compare-and-set on the entry's revision: the loser re-reads, merges and tries again, so neither
/// writer's positions are lost. A commit that spans several names is atomic per name only.
/// </summary>
internal sealed class KvCursorStore(INatsKVStore bucket, StoreCalls calls)
{
    /// <summary>
    /// Compare-and-set attempts before giving up: each retry follows a competing write that succeeded,
    /// so reaching eight means something writes the same name in a tight loop, a bug to surface.
    /// </summary>
    private const int MaxCasAttempts = 8;

    /// <summary>The positions stored under a cursor name.</summary>
    public async ValueTask<IReadOnlyList<CursorUpdate>> GetAllAsync(string name, CancellationToken cancellationToken)
    {
        var (positions, _) = await ReadAsync(name, cancellationToken);
        var updates = new List<CursorUpdate>(positions.Count);
        foreach (var ((topic, partition), offset) in positions)
        {
            updates.Add(new CursorUpdate(name, topic, partition, offset));
        }

        return updates;
    }

    /// <summary>Stores the updates, one atomic compare-and-set put per cursor name.</summary>
    public async ValueTask CommitAsync(IReadOnlyList<CursorUpdate> updates, CancellationToken cancellationToken)
    {
        var byName = new Dictionary<string, List<CursorUpdate>>(StringComparer.Ordinal);
        foreach (var update in updates)
        {
            if (!byName.TryGetValue(update.Name, out var list))
            {
                byName[update.Name] = list = [];
            }

            list.Add(update);
        }

        foreach (var (name, list) in byName)
        {
            await CommitNameAsync(name, list, cancellationToken);
        }
    }

    private async ValueTask CommitNameAsync(string name, List<CursorUpdate> updates, CancellationToken cancellationToken)
    {
        var key = KeyOf(name);
        for (var attempt = 1; ; attempt++)
        {
            var (positions, revision) = await ReadAsync(name, cancellationToken);
            foreach (var u in updates)
            {
                positions[(u.Topic, u.Partition)] = u.Offset;
            }

            var value = Encode(positions);
            var result = await calls.WriteAsync("cursor write", bucket, key, value, revision, cancellationToken);
            if (result.Success)
            {
                return;
            }

            if (result.Error is not NatsKVWrongLastRevisionException and not NatsKVCreateException || attempt >= MaxCasAttempts)
            {
                throw new IOException($"Storing cursor '{name}' failed after {attempt} attempts.", result.Error);
            }
        }
    }

    private async ValueTask<(Dictionary<(string Topic, int Partition), long> Positions, ulong? Revision)> ReadAsync(string name, CancellationToken cancellationToken)
    {
        var key = KeyOf(name);
        var entry = await calls.RetryAsync("cursor get", key, ct => bucket.TryGetEntryAsync<byte[]>(key, cancellationToken: ct), cancellationToken);
        if (!entry.Success)
        {
            return entry.Error is NatsKVKeyNotFoundException or NatsKVKeyDeletedException
                ? ([], null)
                : throw new IOException($"Reading cursor '{name}' failed.", entry.Error);
        }

        return (Decode(entry.Value.Value), entry.Value.Revision);
    }

    /// <summary>
    /// KV keys allow <c>[-/_=.a-zA-Z0-9]</c>: a name of those characters (without '_') is its own key,
    /// any other is '_' + its UTF-8 in hex, so no two names share a key.
    /// </summary>
    internal static string KeyOf(string name)
    {
        var plain = name.Length > 0 && name[0] != '.' && name[^1] != '.';
        foreach (var c in name)
        {
            plain &= char.IsAsciiLetterOrDigit(c) || c is '-' or '/' or '=' or '.';
        }

        return plain ? name : "_" + Convert.ToHexString(Encoding.UTF8.GetBytes(name));
    }

    /// <summary>One line per position, <c>topic TAB partition TAB offset</c>: topics hold neither tabs nor newlines.</summary>
    private static byte[] Encode(Dictionary<(string Topic, int Partition), long> positions)
    {
        var text = new StringBuilder();
        foreach (var ((topic, partition), offset) in positions)
        {
            text.Append(topic).Append('\t').Append(partition.ToString(CultureInfo.InvariantCulture)).Append('\t')
                .Append(offset.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static Dictionary<(string Topic, int Partition), long> Decode(byte[]? value)
    {
        var positions = new Dictionary<(string Topic, int Partition), long>();
        if (value is null)
        {
            return positions;
        }

        foreach (var line in Encoding.UTF8.GetString(value).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split('\t');
            positions[(parts[0], int.Parse(parts[1], CultureInfo.InvariantCulture))] = long.Parse(parts[2], CultureInfo.InvariantCulture);
        }

        return positions;
    }
}
