using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Halfhour.Client.Signing;

/// <summary>What the replay guard says about a signature.</summary>
public enum ReplayCheck
{
    /// <summary>Not seen within the window; now recorded.</summary>
    Fresh,
    /// <summary>Seen before within the window.</summary>
    Replayed,
    /// <summary>The guard holds its maximum number of signatures; nothing was recorded.</summary>
    Saturated,
}

/// <summary>Sizing of a <see cref="SignatureReplayGuard"/>.</summary>
public sealed record ReplayGuardOptions
{
    /// <summary>
    /// How long after its signing date a signature must be remembered: the verifier's allowed clock skew,
    /// because a signature dated d is accepted until d + skew and is harmless to forget after that.
    /// </summary>
    public TimeSpan Retention { get; init; } = SignatureVerificationOptions.DefaultClockSkew;

    /// <summary>
    /// Width of one time bucket. Ten seconds: expiry then frees memory in small steps (a retention of five
    /// minutes spans about 60 buckets, a cheap number to scan) while each bucket stays a plain hash set.
    /// </summary>
    public TimeSpan BucketWidth { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The most signatures held at once. A million (about 40 MB: a 16-byte digest plus hash-set overhead each)
    /// covers about 1,600 signed requests a second sustained over the remembered span of twice a 5-minute
    /// skew — far above a participant population of about 400 sending batches.
    /// </summary>
    public int MaxEntries { get; init; } = 1_000_000;
}

/// <summary>
/// Remembers the signatures accepted recently so that a captured request cannot be sent again while its date is
/// still inside the skew window. Memory is bounded: signatures are kept as 128-bit digests in buckets by signing
/// date, whole buckets are dropped once no signature in them could still be accepted, and when the guard is full
/// it refuses to record (and says so) rather than forget early. Record only signatures that verified, so that
/// forged requests cannot fill it. Thread-safe.
/// </summary>
public sealed class SignatureReplayGuard
{
    private readonly ReplayGuardOptions _options;
    private readonly TimeProvider _clock;
    private readonly SortedDictionary<long, HashSet<UInt128>> _buckets = [];
    private readonly Lock _gate = new();
    private int _count;

    /// <summary>Creates an empty guard.</summary>
    public SignatureReplayGuard(ReplayGuardOptions? options = null, TimeProvider? clock = null)
    {
        _options = options ?? new ReplayGuardOptions();
        if (_options.BucketWidth <= TimeSpan.Zero) throw new ArgumentException("BucketWidth must be positive.", nameof(options));
        if (_options.MaxEntries <= 0) throw new ArgumentException("MaxEntries must be positive.", nameof(options));
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>How many signatures are remembered now.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _count;
        }
    }

    /// <summary>Records a verified signature (its decoded bytes) signed at a date, unless it was seen before.</summary>
    public ReplayCheck TryRecord(ReadOnlySpan<byte> signature, DateTimeOffset signedAt)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(signature, digest);
        var key = BinaryPrimitives.ReadUInt128LittleEndian(digest);
        var bucket = signedAt.UtcTicks / _options.BucketWidth.Ticks;

        lock (_gate)
        {
            Expire(_clock.GetUtcNow());
            if (_buckets.TryGetValue(bucket, out var set) && set.Contains(key)) return ReplayCheck.Replayed;
            if (_count >= _options.MaxEntries) return ReplayCheck.Saturated;
            if (set is null)
            {
                set = [];
                _buckets.Add(bucket, set);
            }

            set.Add(key);
            _count++;
            return ReplayCheck.Fresh;
        }
    }

    // Drops every bucket whose latest possible signing date is older than now - retention.
    private void Expire(DateTimeOffset now)
    {
        var oldestKeptTicks = (now - _options.Retention).UtcTicks;
        while (_buckets.Count > 0)
        {
            var (first, set) = FirstBucket();
            var bucketEndTicks = (first + 1) * _options.BucketWidth.Ticks;
            if (bucketEndTicks > oldestKeptTicks) return;
            _buckets.Remove(first);
            _count -= set.Count;
        }
    }

    private KeyValuePair<long, HashSet<UInt128>> FirstBucket()
    {
        using var e = _buckets.GetEnumerator();
        e.MoveNext();
        return e.Current;
    }
}
