using Halfhour.Log.Batches;

namespace Halfhour.Log.Topics;

/// <summary>A topic: its options and its partitions.</summary>
internal sealed class TopicLog(string name, string directory, TopicOptions options, BatchCodec codec, PartitionLog[] partitions) : IDisposable
{
    public string Name { get; } = name;

    public string Directory { get; } = directory;

    public TopicOptions Options { get; } = options;

    public BatchCodec Codec { get; } = codec;

    public PartitionLog[] Partitions { get; } = partitions;

    public PartitionLog Partition(int id)
    {
        if ((uint)id >= (uint)Partitions.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id, $"Topic {Name} has partitions 0 to {Partitions.Length - 1}.");
        }

        return Partitions[id];
    }

    public void Dispose()
    {
        foreach (var partition in Partitions)
        {
            partition?.Dispose();
        }
    }
}
