namespace Halfhour.Engines.Nats;

/// <summary>How a <see cref="JetStreamEventStore"/>'s reads of wide topics (whose partitions interleave) used consumers.</summary>
/// <param name="Reads">Partition reads a consumer delivered records to.</param>
/// <param name="Created">Consumers created, on the stream's leader or not.</param>
/// <param name="OffLeader">Consumers deleted unread because nats-server 2.9 placed them off the stream's leader.</param>
/// <param name="Refused">Consumer batches dropped because the leader did not hold their first and last records so.</param>
/// <param name="Parked">Consumers parked now for a reader to read on from where it stopped.</param>
public readonly record struct ConsumerReadFigures(long Reads, long Created, long OffLeader, long Refused, int Parked);
