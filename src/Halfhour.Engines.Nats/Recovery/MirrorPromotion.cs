using Halfhour.Engines.Nats.Streams;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Halfhour.Engines.Nats.Recovery;

/// <summary>How a mirror was turned into a writable stream.</summary>
public enum PromotionMethod
{
    /// <summary>The mirror stream was edited: mirror configuration dropped, the topic's subjects added (servers that allow it).</summary>
    EditedInPlace,

    /// <summary>
    /// The server refuses to edit a mirror (nats-server 2.9): the records were copied into a holding
    /// stream, the mirror deleted and recreated as a normal stream sourcing the holding stream.
    /// </summary>
    Recreated,
}

/// <summary>
/// Disaster recovery, active-passive: a second JetStream (another cluster, or a server in another
/// JetStream domain joined by a leaf node connection) holds a mirror of each topic's stream under the
/// same name; when the primary is lost, each mirror is promoted and the brokers connect to the second
/// JetStream with the same <see cref="JetStreamStoreOptions.StreamPrefix"/>.
/// Failure semantics: a mirror lags its origin by what was in flight, so an append acknowledged by the
/// primary in the last moments before it was lost may be missing from the mirror (asynchronous
/// replication); the broker's de-duplication window lets senders retry those. Promotion is idempotent
/// per step: rerun it after a crash and it continues.
/// </summary>
public sealed class MirrorPromotion(INatsJSContext recovery, JetStreamStoreOptions options)
{
    /// <summary>
    /// How long a copy into the holding stream may take to catch up with the mirror before promotion
    /// gives up: minutes, because a large topic is copied record by record by the server.
    /// </summary>
    private static readonly TimeSpan CopyTimeout = TimeSpan.FromMinutes(5);

    private readonly StreamNaming _naming = new(options.StreamPrefix, options.SubjectPrefix);

    /// <summary>Creates (on the recovery side) the mirror of a topic's stream held in JetStream domain <paramref name="primaryDomain"/>.</summary>
    public async Task MirrorAsync(string topic, string primaryDomain, CancellationToken cancellationToken = default)
    {
        var name = _naming.StreamOf(topic);
        var wanted = new StreamConfig
        {
            Name = name,
            Description = $"Halfhour mirror of topic {topic} from domain {primaryDomain}",
            Storage = StreamConfigStorage.File,
            NumReplicas = options.Replicas,
            Mirror = new StreamSource { Name = name, External = new ExternalStreamSource { Api = $"$JS.{primaryDomain}.API" } },
        };
        var info = (await recovery.CreateOrUpdateStreamAsync(wanted, cancellationToken)).Info;
        StreamConfigCheck.Require(info.Config.Mirror?.Name == name, name, "mirror", name, info.Config.Mirror?.Name);
    }

    /// <summary>The number of records the mirror of a topic holds, and its last offset (for a cut-over check).</summary>
    public async Task<(long Messages, long LastOffset)> StateAsync(string topic, CancellationToken cancellationToken = default)
    {
        var state = (await recovery.GetStreamAsync(_naming.StreamOf(topic), cancellationToken: cancellationToken)).Info.State;
        return (state.Messages, JetStreamEventStore.OffsetOf(state.LastSeq));
    }

    /// <summary>Turns the mirror of a topic into the topic's writable stream, keeping every record at its offset.</summary>
    public async Task<PromotionMethod> PromoteAsync(string topic, CancellationToken cancellationToken = default)
    {
        var name = _naming.StreamOf(topic);
        var config = (await recovery.GetStreamAsync(name, cancellationToken: cancellationToken)).Info.Config;
        if (config.Mirror is null)
        {
            return PromotionMethod.EditedInPlace; // already promoted
        }

        config.Mirror = null;
        config.Subjects = [_naming.WildcardOf(topic)];
        config.DuplicateWindow = options.DuplicateWindow;
        config.Description = $"Halfhour topic {topic} (promoted mirror)";
        try
        {
            await recovery.UpdateStreamAsync(config, cancellationToken);
            return PromotionMethod.EditedInPlace;
        }
        catch (NatsJSApiException)
        {
            // 2.9: "stream mirror configuration can not be updated". Copy out, recreate, copy back.
        }

        await RecreateAsync(name, config, cancellationToken);
        return PromotionMethod.Recreated;
    }

    /// <summary>
    /// Copies the mirror into a holding stream, deletes it, creates the topic's stream and copies the
    /// records back, all in stream order. The copies are made by this client, not by stream sources: 2.9
    /// calls a source of a stream that mirrors a same-named stream a cycle. Publishing renumbers from 1,
    /// so offsets are kept only when the mirror starts at offset 0 with no gaps (no retention has removed
    /// its head, no record deleted); otherwise this refuses, because transaction IDs name offsets.
    /// A crash midway leaves the records in the holding stream; rerunning after that is a manual step
    /// (the README's DR procedure).
    /// </summary>
    private async Task RecreateAsync(string name, StreamConfig promoted, CancellationToken cancellationToken)
    {
        var state = (await recovery.GetStreamAsync(name, cancellationToken: cancellationToken)).Info.State;
        if (state.Messages > 0 && (state.FirstSeq != 1 || state.LastSeq != (ulong)state.Messages))
        {
            throw new InvalidOperationException($"The mirror {name} holds sequences {state.FirstSeq}..{state.LastSeq} with gaps or a trimmed head; " +
                "recreating it would renumber offsets. Promote it on nats-server 2.10 or later, which edits a mirror in place.");
        }

        var holding = name + "_PROMOTING";
        var holdingPrefix = "promoting." + name + ".";
        await recovery.CreateOrUpdateStreamAsync(new StreamConfig(holding, [holdingPrefix + ">"])
        {
            Storage = StreamConfigStorage.File,
            NumReplicas = options.Replicas,
        }, cancellationToken);
        await CopyAsync(name, holding, subject => holdingPrefix + subject, state.Messages, cancellationToken);

        await recovery.DeleteStreamAsync(name, cancellationToken);
        await recovery.CreateStreamAsync(promoted, cancellationToken);
        await CopyAsync(holding, name, subject => subject[holdingPrefix.Length..], state.Messages, cancellationToken);
        await recovery.DeleteStreamAsync(holding, cancellationToken);
    }

    /// <summary>Publishes every record of <paramref name="from"/> to <paramref name="to"/>, in stream order, with its headers.</summary>
    private async Task CopyAsync(string from, string to, Func<string, string> subjectOf, long messages, CancellationToken cancellationToken)
    {
        if (messages == 0)
        {
            return;
        }

        var copied = 0L;
        var reader = await recovery.CreateOrderedConsumerAsync(from, cancellationToken: cancellationToken);
        await foreach (var msg in reader.ConsumeAsync<byte[]>(cancellationToken: cancellationToken))
        {
            var ack = await recovery.PublishAsync(subjectOf(msg.Subject), msg.Data ?? [], headers: msg.Headers, cancellationToken: cancellationToken);
            ack.EnsureSuccess();
            StreamConfigCheck.Require(ack.Stream == to && ack.Seq == msg.Metadata!.Value.Sequence.Stream, to, "sequence of a copied record",
                msg.Metadata!.Value.Sequence.Stream, ack.Seq);
            if (++copied == messages)
            {
                return;
            }
        }
    }
}
