using Halfhour.Log.Commit;
using Halfhour.Log.Encryption;
using Halfhour.Log.Retention;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Halfhour.Log;

/// <summary>When an append is acknowledged.</summary>
public enum Durability
{
    /// <summary>After its records are written and fsynced: they survive a crash or power loss. The default.</summary>
    Fsync = 0,

    /// <summary>
    /// After its records are written to the OS page cache, before any fsync: they survive the process
    /// dying but not the machine losing power. For tests and bulk loads only; never the default.
    /// </summary>
    OsCache = 1,
}

/// <summary>Options of an <see cref="EventLog"/>, for the whole directory of topics.</summary>
public sealed record EventLogOptions
{
    /// <summary>The defaults: fsync before acknowledging, immediate group commit, no encryption keys.</summary>
    public static EventLogOptions Default { get; } = new();

    /// <summary>When appends are acknowledged.</summary>
    public Durability Durability { get; init; } = Durability.Fsync;

    /// <summary>When the writer commits a group of appends.</summary>
    public CommitPolicy CommitPolicy { get; init; } = CommitPolicy.Immediate;

    /// <summary>The keys of encrypted topics (required when any topic is encrypted).</summary>
    public EncryptionKeyring? Keyring { get; init; }

    /// <summary>
    /// The largest encoded record (key, headers and value): 1 MiB, far above any MHHS message
    /// (a consumption message is a few KB) yet small enough that a read buffer holds several.
    /// </summary>
    public int MaxRecordBytes { get; init; } = 1 << 20;

    /// <summary>
    /// Bytes that may wait for the writer before appends are held back: 64 MiB is a fraction of a
    /// second of disk bandwidth, enough to keep the writer busy, and bounds the memory producers can fill.
    /// </summary>
    public long MaxQueuedBytes { get; init; } = 64L << 20;

    /// <summary>
    /// The size of the commit journal (<c>DIR/commits.wal</c>), which makes each group commit durable with
    /// one data sync of one file instead of an fsync per segment file written; segments are fsynced when it
    /// fills. 64 MiB is a few seconds of writes at full load (a checkpoint's fsyncs are shared by thousands
    /// of commits) and bounds what recovery replays. 0 turns it off: every file written is fsynced per commit.
    /// </summary>
    public long JournalBytes { get; init; } = 64L << 20;

    /// <summary>Called before retention deletes a segment (e.g. to archive it); if it throws, the segment is kept.</summary>
    public Func<SegmentDeletion, CancellationToken, ValueTask>? BeforeSegmentDeleted { get; init; }

    /// <summary>
    /// How often retention runs in the background (null: only when <see cref="EventLog.ApplyRetentionAsync"/>
    /// is called). A minute is far finer than retention periods of days, and a pass that deletes
    /// nothing costs only a walk over the in-memory segment lists.
    /// </summary>
    public TimeSpan? RetentionInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Where recovery, corruption and retention are reported.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>The clock for retention by age (tests replace it).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}
