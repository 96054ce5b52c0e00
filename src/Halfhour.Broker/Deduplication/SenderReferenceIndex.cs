using System.Buffers;
using System.IO.Hashing;
using System.Text;
using Halfhour.Broker.Messages;

namespace Halfhour.Broker.Deduplication;

/// <summary>
/// Which sender unique references have been accepted, so a retry never creates a second event.
/// A reference is first <em>reserved</em> (so two concurrent requests carrying it cannot both append),
/// then either <em>committed</em> with its transaction ID once its event is durable, or released when
/// the append failed. Keys are 64-bit hashes of (environment, sender, reference) to keep ~30 million a
/// day in memory; a hash match is confirmed by the caller against the stored event before a message is
/// refused as a duplicate, so a collision can never drop a new message.
/// Entries older than the window are forgotten oldest first. A transaction ID is kept packed, 16 bytes in a
/// dictionary of values rather than a string object per reference: two days of the market are 60 million
/// references, by arithmetic ~3 GB this way against ~11 GB as strings, and no object per entry for the collector to trace.
/// </summary>
public sealed class SenderReferenceIndex(TimeSpan window, TimeProvider time) : ISenderReferences
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, PackedTransactionId> _committed = [];
    private readonly Dictionary<ulong, string> _unpackable = [];
    private readonly TransactionIdPrefixes _prefixes = new();
    private readonly Dictionary<ulong, TaskCompletionSource<string?>> _reserved = [];
    private readonly Queue<(long ExpiresAtMs, ulong Key)> _expiry = new();

    /// <summary>How long a reference is remembered after its message was accepted.</summary>
    public TimeSpan Window { get; } = window > TimeSpan.Zero ? window : throw new ArgumentOutOfRangeException(nameof(window), "The de-duplication window must be positive.");

    /// <summary>How many references are remembered.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _committed.Count + _unpackable.Count;
            }
        }
    }

    /// <summary>The key of a reference: a hash of environment, sender and reference.</summary>
    public static ulong KeyOf(string environment, string senderDipId, string senderUniqueReference)
    {
        var length = Encoding.UTF8.GetByteCount(environment) + Encoding.UTF8.GetByteCount(senderDipId) + Encoding.UTF8.GetByteCount(senderUniqueReference);
        byte[]? rented = null;
        var text = length <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(length));
        var e = Encoding.UTF8.GetBytes(environment, text);
        var s = Encoding.UTF8.GetBytes(senderDipId, text[e..]);
        var r = Encoding.UTF8.GetBytes(senderUniqueReference, text[(e + s)..]);
        var key = KeyOf(text[..e], text.Slice(e, s), text.Slice(e + s, r));
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return key;
    }

    /// <summary>The key of a reference whose fields are given as UTF-8 (as a stored message holds them): the same key as <see cref="KeyOf(string, string, string)"/>.</summary>
    public static ulong KeyOf(ReadOnlySpan<byte> environment, ReadOnlySpan<byte> senderDipId, ReadOnlySpan<byte> senderUniqueReference)
    {
        // Each field followed by a separator no field contains, so ("ab","c") and ("a","bc") differ; hashed in one call
        // (the same hash as appending them one by one to an XxHash3, without an XxHash3 object per message).
        var length = environment.Length + senderDipId.Length + senderUniqueReference.Length + 3;
        byte[]? rented = null;
        var buffer = length <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(length));
        var at = Field(environment, buffer);
        at += Field(senderDipId, buffer[at..]);
        at += Field(senderUniqueReference, buffer[at..]);
        var key = XxHash3.HashToUInt64(buffer[..at]);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return key;

        static int Field(ReadOnlySpan<byte> field, Span<byte> destination)
        {
            field.CopyTo(destination);
            destination[field.Length] = 0x1F;
            return field.Length + 1;
        }
    }

    /// <summary>
    /// Looks a reference up and, when it is unknown, reserves it for the caller (<see cref="ReservationState.Reserved"/>).
    /// When it is committed, returns its transaction ID; when another request holds it, returns a task that
    /// completes with the transaction ID once that request commits, or with null when it gave up.
    /// </summary>
    public Reservation Reserve(ulong key)
    {
        lock (_lock)
        {
            Expire();
            if (TryGetCommitted(key, out var transactionId))
            {
                return new Reservation(ReservationState.Committed, transactionId, null);
            }

            if (_reserved.TryGetValue(key, out var pending))
            {
                return new Reservation(ReservationState.HeldByAnother, null, pending.Task);
            }

            _reserved[key] = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
            return new Reservation(ReservationState.Reserved, null, null);
        }
    }

    /// <summary>Records the transaction ID of a reserved reference whose event is now durable.</summary>
    public void Commit(ulong key, string transactionId, DateTimeOffset acceptedAt)
    {
        TaskCompletionSource<string?>? waiter;
        lock (_lock)
        {
            _reserved.Remove(key, out waiter);
            Remember(key, transactionId, acceptedAt);
        }

        waiter?.TrySetResult(transactionId);
    }

    /// <summary>Gives up a reservation (the append failed or the message was rejected after reserving).</summary>
    public void Release(ulong key)
    {
        TaskCompletionSource<string?>? waiter;
        lock (_lock)
        {
            _reserved.Remove(key, out waiter);
        }

        waiter?.TrySetResult(null);
    }

    /// <summary>Forgets a committed reference whose hash turned out to belong to another message (a collision).</summary>
    public void Forget(ulong key)
    {
        lock (_lock)
        {
            _committed.Remove(key);
            _unpackable.Remove(key);
        }
    }

    /// <summary>Restores a reference found in the stored events at start-up.</summary>
    public void Restore(ulong key, string transactionId, DateTimeOffset acceptedAt)
    {
        if (acceptedAt + Window <= time.GetUtcNow())
        {
            return;
        }

        lock (_lock)
        {
            Remember(key, transactionId, acceptedAt);
        }
    }

    /// <summary>
    /// Restores the reference of a message stored at <paramref name="partition"/>@<paramref name="offset"/> whose transaction
    /// ID is <see cref="TransactionId.Create"/>'s of these fields, packed without spelling it out (start-up reads every
    /// stored message of the window, tens of millions at the market's volume).
    /// </summary>
    public void Restore(ulong key, in StoredReference stored, int partition, long offset)
    {
        var acceptedAt = stored.AcceptedAt;
        if (acceptedAt + Window <= time.GetUtcNow())
        {
            return;
        }

        var prefixLength = 2 + stored.InterfaceId.Length + 1 + stored.SenderDipId.Length + 1 + stored.SenderRole.Length;
        Span<char> prefix = stackalloc char[128];
        if (prefixLength > prefix.Length || partition is < 0 or > MaxPackedPartition || offset is < 0 or > MaxPackedOffset
            || !TryWritePrefix(stored, prefix))
        {
            // Not of the packed form's range: spelled out as the live path does.
            Restore(key, TransactionId.Create(Encoding.UTF8.GetString(stored.InterfaceId), Encoding.UTF8.GetString(stored.SenderDipId),
                Encoding.UTF8.GetString(stored.SenderRole), acceptedAt, partition, offset), acceptedAt);
            return;
        }

        var day = acceptedAt.UtcDateTime;
        lock (_lock)
        {
            if (!Knows(key))
            {
                _committed[key] = new PackedTransactionId(_prefixes.NumberOf(prefix[..prefixLength]), day.Year * 10_000 + day.Month * 100 + day.Day,
                    partition * (MaxPackedOffset + 1) + offset);
                ExpireAfterWindow(key, acceptedAt);
            }
        }
    }

    // A transaction ID ends with the partition in three digits and the offset in thirteen (TransactionId.Create).
    private const int MaxPackedPartition = 999;
    private const long MaxPackedOffset = 9_999_999_999_999;

    /// <summary>Writes <c>T-{interface}-{sender}-{role}</c>; false when a field is not ASCII (such an ID is spelled out instead).</summary>
    private static bool TryWritePrefix(in StoredReference stored, Span<char> prefix)
    {
        prefix[0] = 'T';
        var at = 1;
        return Field(stored.InterfaceId, prefix, ref at) && Field(stored.SenderDipId, prefix, ref at) && Field(stored.SenderRole, prefix, ref at);

        static bool Field(ReadOnlySpan<byte> field, Span<char> prefix, ref int at)
        {
            prefix[at++] = '-';
            foreach (var b in field)
            {
                if (b > 0x7F)
                {
                    return false;
                }

                prefix[at++] = (char)b;
            }

            return true;
        }
    }

    /// <inheritdoc />
    ValueTask<Reservation> ISenderReferences.ReserveAsync(SenderReference reference, CancellationToken cancellationToken)
        => ValueTask.FromResult(Reserve(reference.Key));

    /// <inheritdoc />
    ValueTask ISenderReferences.CommitAsync(SenderReference reference, string transactionId, DateTimeOffset acceptedAt)
    {
        Commit(reference.Key, transactionId, acceptedAt);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    ValueTask ISenderReferences.ReleaseAsync(SenderReference reference)
    {
        Release(reference.Key);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    void ISenderReferences.Forget(SenderReference reference) => Forget(reference.Key);

    private void Expire()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        while (_expiry.TryPeek(out var head) && head.ExpiresAtMs <= now)
        {
            _expiry.Dequeue();
            _committed.Remove(head.Key);
            _unpackable.Remove(head.Key);
        }
    }

    /// <summary>Under the lock: keeps a committed reference (the first commit of a key wins).</summary>
    private void Remember(ulong key, string transactionId, DateTimeOffset acceptedAt)
    {
        if (Knows(key))
        {
            return;
        }

        if (PackedTransactionId.TryPack(transactionId, _prefixes, out var packed))
        {
            _committed[key] = packed;
        }
        else
        {
            _unpackable[key] = transactionId; // not of the backbone's form (a foreign ID restored from a shared store)
        }

        ExpireAfterWindow(key, acceptedAt);
    }

    /// <summary>Under the lock: whether the reference is committed.</summary>
    private bool Knows(ulong key) => _committed.ContainsKey(key) || _unpackable.ContainsKey(key);

    /// <summary>Under the lock: the reference is forgotten once the window has passed since it was accepted.</summary>
    private void ExpireAfterWindow(ulong key, DateTimeOffset acceptedAt) => _expiry.Enqueue(((acceptedAt + Window).ToUnixTimeMilliseconds(), key));

    /// <summary>Under the lock: the transaction ID of a committed reference.</summary>
    private bool TryGetCommitted(ulong key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? transactionId)
    {
        if (_committed.TryGetValue(key, out var packed))
        {
            transactionId = packed.Unpack(_prefixes);
            return true;
        }

        return _unpackable.TryGetValue(key, out transactionId);
    }

}

/// <summary>The state of a sender unique reference when it was looked up.</summary>
public enum ReservationState
{
    /// <summary>Unknown until now: the caller holds it and must commit or release it.</summary>
    Reserved,

    /// <summary>Already accepted: the transaction ID is known.</summary>
    Committed,

    /// <summary>Another request holds it: await <see cref="Reservation.Pending"/>.</summary>
    HeldByAnother,
}

/// <summary>The outcome of <see cref="SenderReferenceIndex.Reserve"/>.</summary>
/// <param name="State">What was found.</param>
/// <param name="TransactionId">The transaction ID when committed.</param>
/// <param name="Pending">Completes with the transaction ID (or null) when another request holds the reference.</param>
public readonly record struct Reservation(ReservationState State, string? TransactionId, Task<string?>? Pending);

/// <summary>
/// A transaction ID of the backbone's form, <c>T-{interface}-{sender}-{role}-{yyyyMMdd}-{partition:D3}{offset:D13}</c>
/// (<see cref="Messages.TransactionId"/>), in 16 bytes: the part before the date as a number in a table of such prefixes
/// (one per interface, sender and role: thousands, not millions), the date, and the sixteen digits as one number.
/// </summary>
/// <param name="Prefix">The number of <c>T-{interface}-{sender}-{role}</c> in the prefix table.</param>
/// <param name="Date">The date as the number yyyyMMdd.</param>
/// <param name="Place">Partition and offset: the last sixteen digits as a number.</param>
internal readonly record struct PackedTransactionId(int Prefix, int Date, long Place)
{
    private const int PlaceDigits = 16;
    private const int DateDigits = 8;

    /// <summary>Packs <paramref name="transactionId"/>; false when it is not of the backbone's form.</summary>
    public static bool TryPack(string transactionId, TransactionIdPrefixes prefixes, out PackedTransactionId packed)
    {
        packed = default;
        var id = transactionId.AsSpan();
        const int Tail = 1 + DateDigits + 1 + PlaceDigits;
        if (id.Length <= Tail + 2 || !id.StartsWith("T-") || id[^(PlaceDigits + 1)] != '-' || id[^Tail] != '-'
            || !IsDigits(id[^PlaceDigits..]) || !IsDigits(id[^(PlaceDigits + 1 + DateDigits)..^(PlaceDigits + 1)]))
        {
            return false;
        }

        packed = new PackedTransactionId(prefixes.NumberOf(id[..^Tail]),
            int.Parse(id[^(PlaceDigits + 1 + DateDigits)..^(PlaceDigits + 1)], System.Globalization.CultureInfo.InvariantCulture),
            long.Parse(id[^PlaceDigits..], System.Globalization.CultureInfo.InvariantCulture));
        return true;
    }

    /// <summary>The transaction ID spelled out again, character for character as it was packed.</summary>
    public string Unpack(TransactionIdPrefixes prefixes)
        => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{prefixes[Prefix]}-{Date:D8}-{Place:D16}");

    private static bool IsDigits(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>The prefixes of packed transaction IDs, numbered in order of first use. Not thread-safe.</summary>
internal sealed class TransactionIdPrefixes
{
    private readonly List<string> _prefixes = [];
    private readonly Dictionary<string, int> _numbers = new(StringComparer.Ordinal);

    /// <summary>The prefix numbered <paramref name="number"/>.</summary>
    public string this[int number] => _prefixes[number];

    /// <summary>The number of <paramref name="prefix"/>, given it now when it has none (a string is made only then).</summary>
    public int NumberOf(ReadOnlySpan<char> prefix)
    {
        var lookup = _numbers.GetAlternateLookup<ReadOnlySpan<char>>();
        if (!lookup.TryGetValue(prefix, out var number))
        {
            number = _prefixes.Count;
            var text = prefix.ToString();
            _prefixes.Add(text);
            _numbers[text] = number;
        }

        return number;
    }
}
