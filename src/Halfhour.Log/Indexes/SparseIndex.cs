namespace Halfhour.Log.Indexes;

/// <summary>What the offset and time indexes share: a file of fixed-size entries beside a segment, entries relative to its base offset.</summary>
internal abstract class SparseIndex(string path, long baseOffset, int entrySize, int positionField) : IDisposable
{
    protected long BaseOffset { get; } = baseOffset;

    public IndexFile File { get; } = new(path, entrySize, positionField);

    public int Count => File.Count;

    public void Dispose() => File.Dispose();
}
