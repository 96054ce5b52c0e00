using NATS.Client.Core;
using NATS.Client.KeyValueStore;

namespace Halfhour.Engines.Nats.Cluster;

/// <summary>
/// One small document every broker node shares (the participant registry): a key-value entry replaced whole with a
/// compare-and-set on its revision, so of two nodes changing it at once one succeeds and the other reads the new
/// document and applies its change again.
/// Failure semantics: a replace is replicated before it is acknowledged; a failed one changed nothing. The document
/// must fit one NATS message (1 MiB by default: about 1,500 participants with two certificates each).
/// </summary>
public sealed class SharedDocument
{
    private readonly INatsKVStore _bucket;
    private readonly string _key;
    private readonly StoreCalls _calls;

    internal SharedDocument(INatsKVStore bucket, string key, StoreCalls calls)
    {
        _calls = calls;
        _bucket = bucket;
        _key = key;
    }

    /// <summary>The document and its revision; null and 0 when none was written yet.</summary>
    public async Task<(byte[]? Document, ulong Revision)> ReadAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var entry = await _calls.RetryAsync("document get", _key, ct => _bucket.TryGetEntryAsync<byte[]>(_key, cancellationToken: ct), cancellationToken);
            if (entry.Success)
            {
                return (entry.Value.Value, entry.Value.Revision);
            }

            return entry.Error is NatsKVKeyNotFoundException or NatsKVKeyDeletedException
                ? (null, 0)
                : throw new IOException($"Reading the shared document '{_key}' failed.", entry.Error);
        }
        catch (NatsException ex)
        {
            throw new IOException($"Reading the shared document '{_key}' failed.", ex);
        }
    }

    /// <summary>Replaces the document if it is still at <paramref name="expectedRevision"/> (0: none yet); the new revision, or null when another writer came first.</summary>
    public async Task<ulong?> TryReplaceAsync(byte[] document, ulong expectedRevision, CancellationToken cancellationToken = default)
    {
        try
        {
            var result = await _calls.WriteAsync("document write", _bucket, _key, document, expectedRevision == 0 ? null : expectedRevision, cancellationToken);
            if (result.Success)
            {
                return result.Value;
            }

            return result.Error is NatsKVWrongLastRevisionException or NatsKVCreateException
                ? null
                : throw new IOException($"Writing the shared document '{_key}' failed.", result.Error);
        }
        catch (NatsException ex)
        {
            throw new IOException($"Writing the shared document '{_key}' failed.", ex);
        }
    }
}
