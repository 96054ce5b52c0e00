using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Halfhour.Broker.Storage;
using Halfhour.Broker;
using Halfhour.Broker.Cluster;
using Halfhour.Engines.Nats.Cluster;
using Halfhour.Engines.Nats.Cursors;
using Halfhour.Engines.Nats.Streams;
using Microsoft.Extensions.Logging;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;

namespace Halfhour.Engines.Nats;

/// <summary>
/// <see cref="IEventStore"/> on NATS JetStream: each topic is a file-backed stream replicated
/// <see cref="JetStreamStoreOptions.Replicas"/> times, each partition a subject of it, each offset the
/// stream sequence number less one (so offsets start at 0 like the embedded log's, and a single-partition
/// topic's are contiguous; a partition of a wider topic skips its siblings' numbers), cursors a
/// key-value bucket.
/// Failure semantics: an append completes only when every record's publish acknowledgement has come
/// back without error, i.e. the record is stored on a quorum of the stream's replicas. JetStream 2.9 has
/// no atomic multi-subject publish, so a group that fails halfway may leave some of its records stored:
/// the caller is told the group failed, and a retry carrying the same <see cref="EventWrite.IdempotencyKey"/>s
/// within <see cref="JetStreamStoreOptions.DuplicateWindow"/> is answered with the offsets already
/// stored instead of storing them twice. Records without a key (audit entries, inbox pointers) may be
/// stored twice after such a retry; their readers tolerate repeats.
/// </summary>
public sealed class JetStreamEventStore : IEventStore
{
    /// <summary>The header carrying a record's key (base64: keys are bytes, headers are ASCII).</summary>
    internal const string KeyHeader = "Halfhour-Key";

    /// <summary>
    /// Records a read takes by message get before it switches to a consumer: sixteen gets cost about
    /// two consumer reads, so a short read never pays for a consumer and a long one pays little extra.
    /// </summary>
    private const int GetsBeforeConsumer = 16;

    /// <summary>
    /// Message gets a read of a dense stream sends at once: 64 requests of ~100 bytes and answers of a pointer each
    /// (~250 bytes) are a few kilobytes in flight, one round trip for 64 records instead of 64 (0.6 ms each on one node).
    /// </summary>
    private const int GetsInFlight = 64;

    /// <summary>
    /// At most this many records a read of a dense stream takes by gets (16 rounds of <see cref="GetsInFlight"/>), so one
    /// read holds the stream's leader for milliseconds, not seconds; the caller reads on from the batch's next offset.
    /// </summary>
    private const int MaxGetsPerRead = 1024;

    /// <summary>
    /// A read's consumer is deleted when done; if the delete is lost (the connection drops), the server
    /// reaps it after this long idle.
    /// </summary>
    private static readonly TimeSpan ReaderInactiveThreshold = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A reader parked longer than this without a fetch is not read again but deleted: well inside
    /// <see cref="ReaderInactiveThreshold"/>, after which the server may have reaped it.
    /// </summary>
    private static readonly TimeSpan ParkedIdleLimit = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Consumers parked at most, the least recently read deleted first: a memory consumer of one replica each, on the
    /// stream's leader; enough for every reader of a node that follows a wide topic's partitions to keep its own.
    /// </summary>
    private const int MaxParkedReaders = 256;

    /// <summary>
    /// Consumers a read creates at most to get one on the stream's leader: 2.9 places each on one of the stream's peers at
    /// random, so with three peers one in three lands there, and three attempts miss about three times in ten (the read then
    /// returns what its gets read, and the next read tries again). A consumer is parked and read on, so this is paid once
    /// per reader and leader, not per read.
    /// </summary>
    private const int PlacementAttempts = 3;

    /// <summary>
    /// How long a no-wait fetch waits for the server's answer (NATS.Net's least; its default is 30 s). A live consumer answers
    /// in milliseconds; nats-server 2.9.10 sends nothing at all for a consumer that is gone, so this is what a parked consumer
    /// the server lost costs a read before it reads by gets instead.
    /// </summary>
    private static readonly TimeSpan FetchExpires = TimeSpan.FromSeconds(1);

    /// <summary>
    /// After a new-message signal, how long to keep looking for the record before waiting again: in a
    /// cluster the signal can arrive before the replicated store has committed the record, which takes
    /// milliseconds; a signal of a publish that then failed is given up after this.
    /// </summary>
    private static readonly TimeSpan SignalSettleTime = TimeSpan.FromSeconds(2);

    /// <summary>
    /// After a consumer could not be created, or served a batch the leader does not hold so, reads use gets only for this
    /// long: long enough that a burst of reads does not each wait out a request timeout (or meet the same copy), short
    /// enough that reads are fast again soon after the cluster heals.
    /// </summary>
    private static readonly TimeSpan ConsumerBackoff = TimeSpan.FromSeconds(5);

    private long _consumersFailedUntil;
    private long _consumersCreated;
    private long _consumerReads;
    private long _consumerReadsRefused;
    private long _consumersOffLeader;
    private readonly ILogger _log;
    private readonly NatsConnection _connection;
    private readonly NatsJSContext _js;
    private readonly NatsJSContext _admin;
    private readonly JetStreamStoreOptions _options;
    private readonly StreamNaming _naming;
    private readonly KvCursorStore _cursors;
    private readonly ConcurrentDictionary<string, bool> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _sparse = new(StringComparer.Ordinal); // streams whose partitions interleave: gets in flight would be wasted
    private readonly StoreCalls _calls;
    private readonly LeaderChanges _leaderChanges;
    private readonly ParkedReaders _parked;

    private JetStreamEventStore(NatsConnection connection, NatsJSContext js, NatsJSContext admin, JetStreamStoreOptions options, StreamNaming naming,
        KvCursorStore cursors, StoreCalls calls)
    {
        _admin = admin;
        _calls = calls;
        _connection = connection;
        _js = js;
        _options = options;
        _naming = naming;
        _cursors = cursors;
        _leaderChanges = new LeaderChanges(connection);
        _parked = new ParkedReaders(DeleteQuietlyAsync, ParkedIdleLimit, MaxParkedReaders);
        _log = options.LoggerFactory.CreateLogger<JetStreamEventStore>();
    }

    /// <summary>How this store's reads of wide topics used consumers so far (see <see cref="ConsumerReadFigures"/>).</summary>
    public ConsumerReadFigures ConsumerReads => new(Interlocked.Read(ref _consumerReads), Interlocked.Read(ref _consumersCreated),
        Interlocked.Read(ref _consumersOffLeader), Interlocked.Read(ref _consumerReadsRefused), _parked.Count);

    /// <summary>
    /// Connects to the cluster, checks JetStream is enabled for the account, and opens (or creates) the
    /// cursor bucket. Fails when the server does not honour the bucket's configuration.
    /// </summary>
    public static async Task<JetStreamEventStore> ConnectAsync(JetStreamStoreOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var connection = new NatsConnection(options.ToNatsOpts());
        var calls = new StoreCalls(options.LoggerFactory, options.RequestTimeout);
        try
        {
            await connection.ConnectAsync();
            // Requests wait AttemptTimeout (the connection's request timeout); creating and inspecting streams, rare and
            // needing the meta leader, waits the whole RequestTimeout.
            var js = new NatsJSContext(connection);
            var admin = new NatsJSContext(connection, new NatsJSOpts(connection.Opts, requestTimeout: options.RequestTimeout));
            await admin.GetAccountInfoAsync(cancellationToken); // throws when JetStream is not enabled
            var naming = new StreamNaming(options.StreamPrefix, options.SubjectPrefix);
            var bucket = await OpenBucketAsync(js, admin, calls, options, naming.CursorBucket, "Halfhour durable cursors: one entry per cursor name", TimeSpan.Zero, cancellationToken);
            return new JetStreamEventStore(connection, js, admin, options, naming, new KvCursorStore(bucket, calls), calls);
        }
        catch
        {
            calls.Dispose();
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// What broker nodes sharing this store coordinate through (<see cref="BackboneOptions.Cluster"/>): claims on
    /// sender unique references kept for <paramref name="deduplicationWindow"/>, and delivery leases that a dead
    /// node's successor takes over within <paramref name="leaseTimeToLive"/>. Both are key-value buckets with the
    /// store's replicas. The leases renew in the background until disposed.
    /// </summary>
    public async Task<BrokerCluster> OpenClusterAsync(string nodeId, TimeSpan deduplicationWindow, TimeSpan leaseTimeToLive, TimeProvider? time = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nodeId);
        time ??= TimeProvider.System;
        var references = await OpenBucketAsync(_js, _admin, _calls, _options, _naming.ReferenceBucket,
            "Halfhour sender unique references: one entry per (environment, sender, reference)", deduplicationWindow, cancellationToken);
        var leases = await OpenBucketAsync(_js, _admin, _calls, _options, _naming.LeaseBucket, "Halfhour work leases: one entry per leased work, naming its holder",
            leaseTimeToLive, cancellationToken);
        var workLeases = new KvWorkLeases(leases, nodeId, leaseTimeToLive, time, _calls);
        try
        {
            // This node's own lease, renewed while it runs: claims it leaves when it dies are taken over once it lapses.
            if (!await workLeases.KeepAsync(KvWorkLeases.NodeLeaseOf(nodeId), cancellationToken))
            {
                throw new InvalidOperationException($"Another broker node runs with the node ID '{nodeId}'; give each node its own.");
            }
        }
        catch
        {
            await workLeases.DisposeAsync();
            throw;
        }

        var claims = new KvReferenceClaims(references, nodeId, time, _calls,
            (holder, ct) => workLeases.IsHeldAsync(KvWorkLeases.NodeLeaseOf(holder), ct));
        return new BrokerCluster(nodeId, claims, workLeases);
    }

    /// <summary>A document shared by every broker node of the deployment (the participant registry), in the store's documents bucket.</summary>
    public async Task<SharedDocument> OpenDocumentAsync(string name, CancellationToken cancellationToken = default)
    {
        var bucket = await OpenBucketAsync(_js, _admin, _calls, _options, _naming.DocumentBucket, "Halfhour shared documents: one entry per document, replaced whole",
            TimeSpan.Zero, cancellationToken);
        return new SharedDocument(bucket, KvCursorStore.KeyOf(name), _calls);
    }

    /// <summary>
    /// How long opening a bucket waits for JetStream to answer: creates need the meta leader, and a broker node started just
    /// after the meta leader's server died waits out the election (creates unanswered for ~30 s seen on nats-server 2.9.10,
    /// longer than a request timeout: the node exited) rather than failing its start.
    /// </summary>
    private static readonly TimeSpan BucketOpenWait = TimeSpan.FromSeconds(60);

    /// <summary>Opens (or creates) a key-value bucket of one value per key and checks the server honoured its replicas, storage and age.</summary>
    /// <remarks>The bucket is created through <paramref name="admin"/> (waits the request timeout) and used through <paramref name="js"/> (each request waits the attempt timeout).</remarks>
    private static async Task<INatsKVStore> OpenBucketAsync(NatsJSContext js, NatsJSContext admin, StoreCalls calls, JetStreamStoreOptions options, string name, string description,
        TimeSpan maxAge, CancellationToken cancellationToken)
    {
        // Creating or updating with one configuration is idempotent: sent again while JetStream elects a meta leader.
        var until = Stopwatch.GetTimestamp() + (long)(BucketOpenWait.TotalSeconds * Stopwatch.Frequency);
        var wanted = new NatsKVConfig(name)
        {
            History = 1,
            NumberOfReplicas = options.Replicas,
            Storage = NatsKVStorageType.File,
            Description = description,
            MaxAge = maxAge,
        };
        await calls.RetryAsync("bucket create", name, ct => new NatsKVContext(admin).CreateOrUpdateStoreAsync(wanted, ct), cancellationToken, until);
        var stream = "KV_" + name;
        var config = (await calls.RetryAsync("stream info", stream, ct => admin.GetStreamAsync(stream, cancellationToken: ct), cancellationToken, until)).Info.Config;
        StreamConfigCheck.Require(config.NumReplicas == options.Replicas, stream, "replicas", options.Replicas, config.NumReplicas);
        StreamConfigCheck.Require(config.Storage == StreamConfigStorage.File, stream, "storage", "file", config.Storage);
        StreamConfigCheck.Require(config.MaxAge == maxAge, stream, "max age", maxAge, config.MaxAge);
        return await calls.RetryAsync("bucket", name, ct => new NatsKVContext(js).GetStoreAsync(name, ct), cancellationToken);
    }

    /// <summary>The stream that holds a topic (for operators and tests).</summary>
    public string StreamOf(string topic) => _naming.StreamOf(topic);

    /// <inheritdoc />
    public async ValueTask EnsureTopicAsync(TopicSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (_topics.ContainsKey(spec.Name))
        {
            return;
        }

        var name = _naming.StreamOf(spec.Name);
        var wanted = new StreamConfig(name, [_naming.WildcardOf(spec.Name)])
        {
            Description = $"Halfhour topic {spec.Name}: {spec.Partitions} partitions, {spec.Durability}",
            Storage = StreamConfigStorage.File,
            Retention = StreamConfigRetention.Limits,
            Discard = StreamConfigDiscard.Old,
            NumReplicas = _options.Replicas,
            MaxAge = spec.RetainFor ?? TimeSpan.Zero,
            MaxBytes = _options.MaxBytesPerTopic ?? -1,
            // The server refuses a duplicate window longer than the retention: a short-lived topic gets its age.
            DuplicateWindow = spec.RetainFor is { } age && age < _options.DuplicateWindow ? age : _options.DuplicateWindow,
            Compression = spec.Compressed ? StreamConfigCompression.S2 : StreamConfigCompression.None,
        };

        // Asked again while unanswered (a busy or electing meta layer), as every read is; a create of the same configuration
        // is answered alike however often it arrives. Still unanswered: an IOException, which a publish answers as "retry".
        try
        {
            StreamInfo info;
            try
            {
                info = await StreamInfoAsync(name, cancellationToken);
                // An existing topic keeps its partition count; but it must be this topic's stream.
                StreamConfigCheck.Require(info.Config.Subjects?.Contains(_naming.WildcardOf(spec.Name)) == true, name, "subjects",
                    _naming.WildcardOf(spec.Name), string.Join(',', info.Config.Subjects ?? []));
            }
            catch (NatsJSApiException ex) when (ex.Error.Code == 404)
            {
                try
                {
                    info = (await _calls.RetryAsync("stream create", name, ct => _admin.CreateStreamAsync(wanted, ct), cancellationToken)).Info;
                }
                catch (NatsJSApiException race) when (race.Error.ErrCode == 10058) // created meanwhile by another broker node
                {
                    info = await StreamInfoAsync(name, cancellationToken);
                }

                StreamConfigCheck.Verify(wanted, info.Config);
            }
        }
        catch (NatsException ex) when (ex is not NatsJSApiException api || api.Error.Code == 503) // no answer, or "JetStream system temporarily unavailable"
        {
            throw new IOException($"JetStream did not answer for the stream of topic '{spec.Name}' ({ex.Message}); nothing was stored. Retry.", ex);
        }

        _topics[spec.Name] = true;
    }

    /// <inheritdoc />
    public async ValueTask<long[]> AppendAsync(IReadOnlyList<EventWrite> writes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(writes);
        var offsets = new long[writes.Count];
        if (writes.Count == 0)
        {
            return offsets;
        }

        // One lane per partition: records of one partition are published one after another so their
        // order is kept; lanes run side by side so a group's latency is its longest lane, not its size.
        var lanes = new Dictionary<(string, int), List<int>>();
        for (var i = 0; i < writes.Count; i++)
        {
            var lane = (writes[i].Topic, writes[i].Partition);
            if (!lanes.TryGetValue(lane, out var list))
            {
                lanes[lane] = list = [];
            }

            list.Add(i);
        }

        var tasks = new List<Task>(lanes.Count);
        var deadline = _calls.Deadline(); // the whole group's: a lane's records do not each get the full request timeout
        foreach (var lane in lanes.Values)
        {
            tasks.Add(PublishLaneAsync(writes, lane, offsets, deadline, cancellationToken));
        }

        try
        {
            await Task.WhenAll(tasks);
        }
        catch (Exception ex) when (ex is NatsException or TimeoutException)
        {
            throw new IOException("JetStream did not acknowledge every record of the group; some may be stored. Retry with the same idempotency keys.", ex);
        }

        return offsets;
    }

    /// <inheritdoc />
    public ValueTask FlushDerivedAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask; // every ack already means stored on a quorum

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<string>> ListTopicsAsync(CancellationToken cancellationToken = default)
    {
        var topics = new List<string>();
        await foreach (var stream in _js.ListStreamsAsync(cancellationToken: cancellationToken))
        {
            if (!_naming.IsOurs(stream.Info.Config.Name!) || stream.Info.Config.Subjects is not { Count: 1 } subjects)
            {
                continue;
            }

            if (_naming.TopicOfWildcard(subjects.First()) is { } topic)
            {
                topics.Add(topic);
            }
        }

        return topics;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Every record of a read of a <b>dense</b> partition — one whose records follow each other in the stream, as a
    /// single-partition topic's (every inbox) do — comes from the stream leader's message get: the first, beside a get of
    /// the subject's last record (most reads are a follower at the tail or a lookup of one record: two requests, one round
    /// trip), then <see cref="GetsInFlight"/> at a time at the numbers that follow up to that last record, at most
    /// <see cref="MaxGetsPerRead"/> records. No consumer is created: a consumer create goes through nats-server 2.9's meta
    /// leader, and one per inbox read (6.5-11 a second in the failover test) loaded the meta layer and,
    /// during a meta-leader election, made reads wait ~30 s for creates. A partition of a wider topic, whose records
    /// interleave with its siblings' (the stream is then remembered as sparse), is read a get at a time for its first
    /// <see cref="GetsBeforeConsumer"/> records, then with a consumer, whose creation costs several round trips (measured on
    /// one node: about 5 ms a consumer read, 0.6 ms a get). The consumer is then parked (<see cref="ParkedReaders"/>): the
    /// partition's next read that starts where it stopped reads on with it, after one get says there is a record, so a
    /// reader catching up creates a consumer per stream leader, not per read. A consumer reads its own node's copy of the
    /// stream, which after a leader change need not be the leader's: a consumer is read only when it was placed on the
    /// stream's leader (<see cref="CreateOnLeaderAsync"/>), a parked one only while no leader change was heard of since, and
    /// every batch is kept only when the leader holds its first and last records (<see cref="LeaderHoldsAsync"/>), else
    /// dropped (<see cref="ConsumerReadFigures"/>, a warning) and reads go by gets.
    /// </remarks>
    public async ValueTask<EventBatch> ReadAsync(string topic, int partition, long fromOffset, int maxBytes, CancellationToken cancellationToken = default)
    {
        var stream = await RequireTopicAsync(topic, cancellationToken);
        var subject = _naming.SubjectOf(topic, partition);
        var events = new List<StoredEvent>();
        var bytes = 0L;
        var next = SeqOf(fromOffset);
        if (!_sparse.ContainsKey(stream))
        {
            if (await ReadDenseAsync(stream, subject, next, maxBytes, events, cancellationToken) is { } end)
            {
                return new JetStreamEventBatch(events, OffsetOf(end));
            }

            // Its records interleave with other partitions': what was read so far is a valid start, the rest as below.
            foreach (var record in events)
            {
                bytes += record.Value.Length;
            }

            next = SeqOf(events[^1].Offset + 1);
        }

        // A reader parked where this read starts reads on, once a get says there is something to read (a tail reader's
        // read finds nothing most times: one get, as without a consumer).
        var epoch = _leaderChanges.Of(stream);
        if (events.Count == 0 && await _parked.TakeAsync(subject, next, epoch) is { } parked)
        {
            if (await GetNextAsync(stream, subject, next, cancellationToken) is not { } leadersFirst)
            {
                await _parked.ParkAsync(subject, parked);
                return new JetStreamEventBatch(events, OffsetOf(next));
            }

            if (await ReadByConsumerAsync(stream, subject, parked, leadersFirst, events, maxBytes, cancellationToken) is { } end)
            {
                return new JetStreamEventBatch(events, OffsetOf(end));
            }

            // It delivered nothing although the leader holds a record: the server no longer has it (2.9.10 does not answer a
            // fetch from a consumer that is gone; the fetch expires empty). Read as if none had been parked.
            await DeleteQuietlyAsync(parked.Consumer);
        }

        for (var i = events.Count; i < GetsBeforeConsumer; i++)
        {
            if (await GetNextAsync(stream, subject, next, cancellationToken) is not { } record)
            {
                return new JetStreamEventBatch(events, OffsetOf(next));
            }

            events.Add(record);
            bytes += record.Value.Length;
            next = SeqOf(record.Offset + 1);
            if (bytes >= maxBytes)
            {
                return new JetStreamEventBatch(events, OffsetOf(next));
            }
        }

        if (Environment.TickCount64 < Volatile.Read(ref _consumersFailedUntil)
            || await CreateOnLeaderAsync(stream, subject, next, epoch, cancellationToken) is not { } created)
        {
            return new JetStreamEventBatch(events, OffsetOf(next)); // gets only: consumers failing just now, or none placed on the leader
        }

        if (await ReadByConsumerAsync(stream, subject, created, null, events, maxBytes - bytes, cancellationToken) is { } read)
        {
            return new JetStreamEventBatch(events, OffsetOf(read));
        }

        await _parked.ParkAsync(subject, created); // nothing after the gets yet: the next read starts there
        return new JetStreamEventBatch(events, OffsetOf(next));
    }

    /// <summary>
    /// A consumer for <paramref name="subject"/> from <paramref name="startSeq"/> on the stream's leader, or null. nats-server
    /// 2.9 places a one-replica consumer on any of the stream's peers (<c>createGroupForConsumer</c>; an ephemeral one on a
    /// random "preferred" peer) and it reads that peer's own copy, which after a leader change can hold other records at the
    /// same numbers, inside a batch as well as at its ends. So the stream's leader is asked beside the first create, and a consumer
    /// placed elsewhere is deleted unread (<see cref="ConsumerReadFigures.OffLeader"/>) and another created, up to
    /// <see cref="PlacementAttempts"/> times. A create that fails (2.9's meta layer can time out for a long while after a
    /// node's death, while the stream's leader answers gets) turns reads to gets for <see cref="ConsumerBackoff"/>, so each
    /// read does not wait out a request timeout first.
    /// </summary>
    private async ValueTask<ParkedReader?> CreateOnLeaderAsync(string stream, string subject, ulong startSeq, long epoch, CancellationToken cancellationToken)
    {
        var streamInfo = StreamInfoAsync(stream, cancellationToken).AsTask(); // the leader, asked once beside the first create
        for (var attempt = 0; attempt < PlacementAttempts; attempt++)
        {
            var created = CreateReaderAsync(stream, subject, startSeq, cancellationToken).AsTask();
            try
            {
                await Task.WhenAll(created, streamInfo);
            }
            catch (NatsException) when (!cancellationToken.IsCancellationRequested)
            {
                if (created.IsCompletedSuccessfully)
                {
                    await DeleteQuietlyAsync(created.Result);
                }

                BackOffConsumers();
                return null;
            }

            var consumer = created.Result;
            Interlocked.Increment(ref _consumersCreated);
            if (!IsOffLeader(streamInfo.Result.Cluster?.Leader, consumer.Info.Cluster?.Leader))
            {
                return new ParkedReader(consumer, startSeq, 0, epoch, Environment.TickCount64);
            }

            await DeleteQuietlyAsync(consumer);
            Interlocked.Increment(ref _consumersOffLeader);
        }

        return null;
    }

    /// <summary>
    /// Appends to <paramref name="events"/> what <paramref name="reader"/> delivers now, up to <paramref name="maxBytes"/>, and
    /// returns the sequence after the batch; null when it delivered nothing (the caller parks or deletes it). A batch the
    /// leader does not hold so (<see cref="LeaderHoldsAsync"/>, given <paramref name="leadersFirst"/> when a get already
    /// read the record the consumer starts at; as the leader may have changed since the consumer was placed)
    /// is dropped with a warning, the consumer deleted, and reads go by gets for <see cref="ConsumerBackoff"/>; a kept batch
    /// parks the consumer at the sequence after it. A fetch that fails deletes the consumer.
    /// </summary>
    private async ValueTask<ulong?> ReadByConsumerAsync(string stream, string subject, ParkedReader reader, StoredEvent? leadersFirst, List<StoredEvent> events,
        long maxBytes, CancellationToken cancellationToken)
    {
        var byGets = events.Count;
        var delivered = reader.Delivered;
        try
        {
            await foreach (var msg in reader.Consumer.FetchNoWaitAsync<byte[]>(new NatsJSFetchOpts { MaxBytes = (int)Math.Max(1, maxBytes), Expires = FetchExpires }, cancellationToken: cancellationToken))
            {
                var metadata = msg.Metadata ?? throw new InvalidDataException($"A record of {stream} came without JetStream metadata.");
                // The consumer numbers what it delivers 1, 2, 3… over all its reads: a gap means the client lost a message.
                if (metadata.Sequence.Consumer != ++delivered)
                {
                    throw new IOException($"A read of {subject} lost records in the client (delivery {metadata.Sequence.Consumer} after {delivered - 1}); read again.");
                }

                events.Add(new StoredEvent(OffsetOf(metadata.Sequence.Stream), metadata.Timestamp, KeyOf(msg.Headers), msg.Data ?? []));
            }
        }
        catch
        {
            await DeleteQuietlyAsync(reader.Consumer);
            throw;
        }

        if (events.Count == byGets)
        {
            return null;
        }

        Interlocked.Increment(ref _consumerReads);
        if (!await LeaderHoldsAsync(stream, subject, reader.Next, leadersFirst, events, byGets, cancellationToken))
        {
            // The consumer served a copy of the stream that is not the leader's: keep what the gets read, and read by gets
            // only for a while, as after a failed create.
            Interlocked.Increment(ref _consumerReadsRefused);
            _log.LogWarning("A read of {Subject} by a consumer on {Node} returned offsets {First}-{Last}, which the stream's leader does not hold so; " +
                "the {Count} records were dropped and reads use message gets for {Seconds} s", subject, reader.Consumer.Info.Cluster?.Leader ?? "?",
                events[byGets].Offset, events[^1].Offset, events.Count - byGets, ConsumerBackoff.TotalSeconds);
            events.RemoveRange(byGets, events.Count - byGets);
            BackOffConsumers();
            await DeleteQuietlyAsync(reader.Consumer);
            return reader.Next;
        }

        var after = SeqOf(events[^1].Offset + 1);
        await _parked.ParkAsync(subject, reader with { Next = after, Delivered = delivered, FetchedAt = Environment.TickCount64 });
        return after;
    }

    /// <summary>Reads use gets only for <see cref="ConsumerBackoff"/>: a consumer create failed, or a batch was refused.</summary>
    private void BackOffConsumers() => Volatile.Write(ref _consumersFailedUntil, Environment.TickCount64 + (long)ConsumerBackoff.TotalMilliseconds);

    /// <summary>
    /// Whether the stream's leader holds what a consumer read, <paramref name="events"/> from <paramref name="start"/> on,
    /// read from sequence <paramref name="from"/>: the subject's first record from there (<paramref name="leadersFirst"/> when
    /// already read) must be the consumer's first, and its record at the consumer's last sequence the consumer's last, byte
    /// for byte (two gets, one round trip; one when the first is known).
    /// </summary>
    /// <remarks>
    /// nats-server 2.9 places a one-replica consumer on any of the stream's peers (<c>createGroupForConsumer</c> shuffles
    /// them), and the consumer delivers from that peer's own copy of the stream. Right after a leader change that copy can
    /// differ from the leader's: the failover soak met a consumer on the restarted old leader serving records at numbers
    /// where the leader holds others. The message gets are answered by the leader alone. Most copies seen differed from
    /// some record on, so at the batch's last record too, and the two ends refuse such a batch; one differing only inside a
    /// batch would pass (a soak round met what looks like it), which is why <see cref="ReadAsync"/> reads a consumer only on
    /// the leader and this check remains for a leader that changed meanwhile. A copy that merely lags returns fewer
    /// records, which is a valid batch.
    /// </remarks>
    private async ValueTask<bool> LeaderHoldsAsync(string stream, string subject, ulong from, StoredEvent? leadersFirst, List<StoredEvent> events, int start,
        CancellationToken cancellationToken)
    {
        var first = leadersFirst is not null ? Task.FromResult(leadersFirst) : GetNextAsync(stream, subject, from, cancellationToken).AsTask();
        var last = GetNextAsync(stream, subject, SeqOf(events[^1].Offset), cancellationToken).AsTask();
        await Task.WhenAll(first, last);
        return Same(events[start], first.Result) && Same(events[^1], last.Result);
    }

    /// <summary>
    /// Whether a consumer placed on <paramref name="consumerNode"/> is off the stream's <paramref name="streamLeader"/>. A single
    /// server reports neither (no cluster): its consumers read the one copy there is.
    /// </summary>
    internal static bool IsOffLeader(string? streamLeader, string? consumerNode)
        => streamLeader is not null && consumerNode is not null && !string.Equals(consumerNode, streamLeader, StringComparison.Ordinal);

    /// <summary>Whether <paramref name="leaders"/> is the record <paramref name="read"/>: same offset, same key, same bytes.</summary>
    internal static bool Same(StoredEvent read, StoredEvent? leaders)
        => leaders is { } held && held.Offset == read.Offset && held.Key.Span.SequenceEqual(read.Key.Span) && held.Value.Span.SequenceEqual(read.Value.Span);

    /// <inheritdoc />
    /// <remarks>
    /// Per partition: from its first record to one past its last, so a reader that has read the partition
    /// to its end is at <see cref="PartitionRange.Next"/> whatever the other partitions hold. An empty
    /// partition is empty at the stream's first offset, a bound no later record can be below.
    /// </remarks>
    public async ValueTask<PartitionRange> RangeAsync(string topic, int partition, CancellationToken cancellationToken = default)
    {
        var stream = await RequireTopicAsync(topic, cancellationToken);
        var subject = _naming.SubjectOf(topic, partition);
        if (await GetNextAsync(stream, subject, 1, cancellationToken) is { } first)
        {
            var last = await GetAsync(stream, new StreamMsgGetRequest { LastBySubj = subject }, cancellationToken);
            return new PartitionRange(first.Offset, Math.Max(first.Offset, last?.Offset ?? first.Offset) + 1);
        }

        var empty = await EmptyPartitionAtAsync(stream, cancellationToken);
        return new PartitionRange(empty, empty);
    }

    /// <summary>Where a partition holding no record is: the stream's first offset, a bound no later record can be below.</summary>
    private async ValueTask<long> EmptyPartitionAtAsync(string stream, CancellationToken cancellationToken)
        => Math.Max(0, OffsetOf((await StreamInfoAsync(stream, cancellationToken)).State.FirstSeq));

    /// <inheritdoc />
    /// <remarks>
    /// By the leader's message gets (2.9's get cannot search by time): the partition's first record, which answers a time
    /// before it (a replay from the start, a restore whose window covers everything) in one get; its last, which answers a
    /// time after it; between them a binary search, about log2 of the partition's span of sequence numbers (24 gets for 16
    /// million). A consumer starting at the time would take fewer requests, but it answers from its own node's copy of the
    /// stream, which after a leader change need not be the leader's (see <see cref="LeaderHoldsAsync"/>). Like the server's
    /// own search, it takes records' times to rise with their sequence numbers (the leader stamps them as it stores them).
    /// </remarks>
    public async ValueTask<long> OffsetAtAsync(string topic, int partition, DateTimeOffset timestamp, CancellationToken cancellationToken = default)
    {
        var stream = await RequireTopicAsync(topic, cancellationToken);
        var subject = _naming.SubjectOf(topic, partition);
        if (await GetNextAsync(stream, subject, 1, cancellationToken) is not { } first)
        {
            return await EmptyPartitionAtAsync(stream, cancellationToken);
        }

        if (first.Timestamp >= timestamp)
        {
            return first.Offset;
        }

        var last = await GetAsync(stream, new StreamMsgGetRequest { LastBySubj = subject }, cancellationToken) ?? first;
        if (last.Timestamp < timestamp)
        {
            return last.Offset + 1;
        }

        // The first number whose next record of the subject is at or after the time: every number past it is one too. The
        // answer lies after the first record and at or before the last.
        var low = SeqOf(first.Offset + 1);
        var high = SeqOf(last.Offset);
        var found = last; // always the next record at high
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            var record = await GetNextAsync(stream, subject, middle, cancellationToken) ?? last;
            if (record.Timestamp >= timestamp)
            {
                high = middle;
                found = record;
            }
            else
            {
                low = SeqOf(record.Offset + 1);
            }
        }

        return found.Offset;
    }

    /// <inheritdoc />
    public async ValueTask WaitForAsync(string topic, int partition, long offset, CancellationToken cancellationToken = default)
    {
        var stream = await RequireTopicAsync(topic, cancellationToken);
        var subject = _naming.SubjectOf(topic, partition);
        var from = SeqOf(offset);

        // Subscribe before looking, so a record stored between the look and the wait still wakes us: a
        // publish to the partition's subject reaches plain subscribers too. The SUB goes out before the
        // look's request on the same connection, so the server knows of it first.
        await using var signals = await _connection.SubscribeCoreAsync<byte[]>(subject, cancellationToken: cancellationToken);
        if (await GetNextAsync(stream, subject, from, cancellationToken) is not null)
        {
            return;
        }

        while (true)
        {
            await signals.Msgs.ReadAsync(cancellationToken);
            var settleUntil = DateTime.UtcNow + SignalSettleTime;
            var pause = TimeSpan.FromMilliseconds(2);
            while (true)
            {
                if (await GetNextAsync(stream, subject, from, cancellationToken) is not null)
                {
                    return;
                }

                if (DateTime.UtcNow >= settleUntil)
                {
                    break;
                }

                // Signalled but not yet committed by the stream: look again shortly (doubling, as commits take ms).
                await Task.Delay(pause, cancellationToken);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMilliseconds(200).Ticks));
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<long?> GetCursorAsync(string name, string topic, int partition, CancellationToken cancellationToken = default)
    {
        foreach (var cursor in await _cursors.GetAllAsync(name, cancellationToken))
        {
            if (cursor.Topic == topic && cursor.Partition == partition)
            {
                return cursor.Offset;
            }
        }

        return null;
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<CursorUpdate>> GetCursorsAsync(string name, CancellationToken cancellationToken = default)
        => _cursors.GetAllAsync(name, cancellationToken);

    /// <inheritdoc />
    public ValueTask CommitCursorsAsync(IReadOnlyList<CursorUpdate> updates, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(updates);
        return _cursors.CommitAsync(updates, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Counts the leader elections of the topic's stream this store heard of, and its reconnects.</remarks>
    public long TailEpoch(string topic) => _leaderChanges.Of(_naming.StreamOf(topic));

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _parked.DeleteAllAsync();
        await _leaderChanges.DisposeAsync();
        _calls.Dispose();
        await _connection.DisposeAsync();
    }

    private async Task PublishLaneAsync(IReadOnlyList<EventWrite> writes, List<int> lane, long[] offsets, long deadline, CancellationToken cancellationToken)
    {
        foreach (var i in lane)
        {
            var write = writes[i];
            await RequireTopicAsync(write.Topic, cancellationToken);
            var headers = new NatsHeaders();
            if (!write.Key.IsEmpty)
            {
                headers[KeyHeader] = Convert.ToBase64String(write.Key.Span);
            }

            // Nats-Msg-Id: a retry of this record within the duplicate window is acknowledged with the
            // original sequence (ack.Duplicate) instead of being stored again — the caller's retry of a failed group
            // (its idempotency key), and this store's own when a publish got no answer (a record without a key gets an
            // ID for this append), so each is sent again until acknowledged.
            var subject = _naming.SubjectOf(write.Topic, write.Partition);
            var value = write.Value.ToArray();
            var options = new NatsJSPubOpts { MsgId = write.IdempotencyKey ?? Guid.NewGuid().ToString("N") };
            var ack = await _calls.RetryAsync("publish", subject, ct => _js.PublishAsync(subject, value, opts: options, headers: headers, cancellationToken: ct),
                cancellationToken, deadline);
            if (!ack.Duplicate)
            {
                ack.EnsureSuccess(); // server-side errors (wrong stream, storage full) arrive inside the ack
            }
            offsets[i] = OffsetOf(ack.Seq); // on a duplicate, the original's
        }
    }

    /// <summary>
    /// Reads records of <paramref name="subject"/> from sequence <paramref name="from"/> into <paramref name="events"/> by
    /// message gets, <see cref="GetsInFlight"/> at a time: each asks for the subject's first record at or after one of the
    /// numbers following the last record read, so where the records are dense each answers a record of its own, and where a
    /// number holds none (another partition's record, or one deleted) its answer is the next record anyway — the batch is
    /// complete whatever the stream holds. Returns the sequence after the batch, or null when the records were found to
    /// interleave with other subjects' (most answers repeated): the stream is remembered as sparse, and
    /// <paramref name="events"/> holds a valid start (at least one record) to go on from.
    /// </summary>
    private async ValueTask<ulong?> ReadDenseAsync(string stream, string subject, ulong from, int maxBytes, List<StoredEvent> events, CancellationToken cancellationToken)
    {
        // The subject's first record from here and its last, side by side: the last bounds the gets, so a reader at the
        // tail (most reads) sends two requests, not a round of gets past the end.
        var firstAnswer = GetNextAsync(stream, subject, from, cancellationToken).AsTask();
        var lastAnswer = GetAsync(stream, new StreamMsgGetRequest { LastBySubj = subject }, cancellationToken).AsTask();
        await Task.WhenAll(firstAnswer, lastAnswer);
        if (firstAnswer.Result is not { } first)
        {
            return from;
        }

        events.Add(first);
        var bytes = (long)first.Value.Length;
        var next = SeqOf(first.Offset + 1);
        var last = lastAnswer.Result is { } found ? SeqOf(found.Offset) : 0;
        var answers = new Task<StoredEvent?>[GetsInFlight];
        while (bytes < maxBytes && events.Count < MaxGetsPerRead && next <= last)
        {
            // As many gets as the records still wanted would need at the size of those read so far, and no more than the
            // numbers up to the last record (some may be other partitions').
            var average = Math.Max(1, bytes / events.Count);
            var count = (int)Math.Min(Math.Clamp((maxBytes - bytes + average - 1) / average, 1, Math.Min(GetsInFlight, MaxGetsPerRead - events.Count)),
                (long)(last - next + 1));
            for (var k = 0; k < count; k++)
            {
                answers[k] = GetNextAsync(stream, subject, next + (ulong)k, cancellationToken).AsTask();
            }

            await Task.WhenAll(new ArraySegment<Task<StoredEvent?>>(answers, 0, count));
            var asked = next;
            var added = 0;
            for (var k = 0; k < count; k++)
            {
                if (asked + (ulong)k < next)
                {
                    continue; // no record of the subject at this number: an earlier answer was the record past it
                }

                if (answers[k].Result is not { } record)
                {
                    return next; // past the end
                }

                events.Add(record);
                added++;
                bytes += record.Value.Length;
                next = SeqOf(record.Offset + 1);
                if (bytes >= maxBytes)
                {
                    return next;
                }
            }

            if (added * 2 < count)
            {
                _sparse[stream] = true;
                return null;
            }
        }

        return next;
    }

    private ValueTask<StoredEvent?> GetNextAsync(string stream, string subject, ulong from, CancellationToken cancellationToken)
        => GetAsync(stream, new StreamMsgGetRequest { Seq = from, NextBySubj = subject }, cancellationToken);

    private async ValueTask<StoredEvent?> GetAsync(string stream, StreamMsgGetRequest request, CancellationToken cancellationToken)
    {
        try
        {
            // The stream's own get, answered by its leader: a direct get may be served by a replica that
            // has not applied the latest commit, and a missed record here would make a waiter sleep.
            var response = await _calls.RetryAsync("get", stream, ct => _js.JSRequestResponseAsync<StreamMsgGetRequest, StreamMsgGetResponse>(
                $"{_js.Opts.Prefix}.STREAM.MSG.GET.{stream}", request, ct), cancellationToken);
            var message = response.Message;
            return new StoredEvent(OffsetOf(message.Seq), message.Time, KeyOfRaw(message.Hdrs), message.Data.ToArray());
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            return null;
        }
    }

    /// <summary>
    /// An ephemeral consumer over one partition with ONE filter subject: nats-server 2.9 silently ignores
    /// the plural filter_subjects, which would read every partition, so the filter is checked after
    /// creation. No acks, in memory, one replica: a reader's position is the caller's, not the server's.
    /// </summary>
    private async ValueTask<INatsJSConsumer> CreateReaderAsync(string stream, string subject, ulong startSeq, CancellationToken cancellationToken)
    {
        var config = new ConsumerConfig
        {
            Name = ReaderName(),
            FilterSubject = subject,
            DeliverPolicy = ConsumerConfigDeliverPolicy.ByStartSequence,
            OptStartSeq = startSeq,
            AckPolicy = ConsumerConfigAckPolicy.None,
            MemStorage = true,
            NumReplicas = 1,
            InactiveThreshold = ReaderInactiveThreshold,
        };

        var consumer = await _calls.RunAsync("consumer create", stream, ct => _js.CreateOrUpdateConsumerAsync(stream, config, ct), cancellationToken);
        if (consumer.Info.Config.FilterSubject != subject)
        {
            await DeleteQuietlyAsync(consumer);
            StreamConfigCheck.Require(false, stream, "consumer filter subject", subject, consumer.Info.Config.FilterSubject);
        }

        return consumer;
    }

    private async ValueTask<StreamInfo> StreamInfoAsync(string stream, CancellationToken cancellationToken)
        => (await _calls.RetryAsync("stream info", stream, ct => _js.GetStreamAsync(stream, cancellationToken: ct), cancellationToken)).Info;

    /// <summary>The offset of a stream sequence number (sequences start at 1, offsets at 0).</summary>
    internal static long OffsetOf(ulong sequence) => (long)sequence - 1;

    /// <summary>The stream sequence number of an offset.</summary>
    internal static ulong SeqOf(long offset) => (ulong)Math.Max(0, offset) + 1;

    /// <summary>A unique name for a reader's ephemeral consumer (2.9 rejects an unnamed one created with a filter).</summary>
    private static string ReaderName() => "hh-read-" + Guid.NewGuid().ToString("N");

    private ValueTask DeleteQuietlyAsync(INatsJSConsumer consumer) => DeleteQuietlyAsync(consumer.Info.StreamName, consumer.Info.Name);

    private async ValueTask DeleteQuietlyAsync(string stream, string consumer)
    {
        try
        {
            await _calls.RunAsync("consumer delete", stream, ct => _js.DeleteConsumerAsync(stream, consumer, ct), default);
        }
        catch (NatsException)
        {
            // Reaped by the server after ReaderInactiveThreshold anyway.
        }
    }

    /// <summary>The stream of a topic this store ensured, or that exists already (made by another broker node or before a restart).</summary>
    private async ValueTask<string> RequireTopicAsync(string topic, CancellationToken cancellationToken)
    {
        var stream = _naming.StreamOf(topic);
        if (_topics.ContainsKey(topic))
        {
            return stream;
        }

        try
        {
            var info = await StreamInfoAsync(stream, cancellationToken);
            StreamConfigCheck.Require(info.Config.Subjects?.Contains(_naming.WildcardOf(topic)) == true, stream, "subjects",
                _naming.WildcardOf(topic), string.Join(',', info.Config.Subjects ?? []));
        }
        catch (NatsJSApiException ex) when (ex.Error.Code == 404)
        {
            throw new ArgumentException($"Topic '{topic}' does not exist; create it with EnsureTopicAsync first.", nameof(topic), ex);
        }

        _topics[topic] = true;
        return stream;
    }

    private static ReadOnlyMemory<byte> KeyOf(NatsHeaders? headers)
        => headers is not null && headers.TryGetValue(KeyHeader, out var value) ? Convert.FromBase64String(value.ToString()) : ReadOnlyMemory<byte>.Empty;

    /// <summary>The key from a stored message's raw headers (base64 of <c>NATS/1.0\r\nName: value\r\n…</c>).</summary>
    private static ReadOnlyMemory<byte> KeyOfRaw(string? base64Headers)
    {
        if (string.IsNullOrEmpty(base64Headers))
        {
            return ReadOnlyMemory<byte>.Empty;
        }

        foreach (var line in Encoding.ASCII.GetString(Convert.FromBase64String(base64Headers)).Split("\r\n"))
        {
            if (line.StartsWith(KeyHeader + ":", StringComparison.OrdinalIgnoreCase))
            {
                return Convert.FromBase64String(line[(KeyHeader.Length + 1)..].Trim());
            }
        }

        return ReadOnlyMemory<byte>.Empty;
    }

    /// <summary>Records read from a stream; plain arrays, nothing to return.</summary>
    private sealed class JetStreamEventBatch(List<StoredEvent> events, long nextOffset) : EventBatch
    {
        public override IReadOnlyList<StoredEvent> Events => events;

        public override long NextOffset => nextOffset;
    }
}
