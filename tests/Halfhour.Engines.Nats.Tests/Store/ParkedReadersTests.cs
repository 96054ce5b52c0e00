using System.Reflection;
using Halfhour.Engines.Nats.Streams;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace Halfhour.Engines.Nats.Tests.Store;

/// <summary>Which parked consumer a read gets, and which are deleted (the server's side is in JetStreamSpecificTests).</summary>
public sealed class ParkedReadersTests
{
    private const string Stream = "HH_DEV_IF-021";
    private const string Subject = "hh.DEV.IF-021.1";
    private readonly List<string> _deleted = [];

    [Fact]
    public async Task A_read_gets_the_reader_parked_where_it_starts_in_the_same_leader_epoch()
    {
        var readers = New(TimeSpan.FromMinutes(1), 8);
        var reader = Reader("a", next: 40, epoch: 3);
        await readers.ParkAsync(Subject, reader);

        Assert.Null(await readers.TakeAsync(Subject, 41, 3)); // another place: not it, and it stays
        Assert.Null(await readers.TakeAsync("hh.DEV.IF-021.2", 40, 3)); // another partition
        Assert.Same(reader, await readers.TakeAsync(Subject, 40, 3));
        Assert.Null(await readers.TakeAsync(Subject, 40, 3)); // taken: two reads never share one
        Assert.Empty(_deleted);
    }

    [Fact]
    public async Task A_reader_from_before_a_leader_change_or_left_idle_is_deleted_not_read()
    {
        var readers = New(TimeSpan.FromMilliseconds(200), 8);
        await readers.ParkAsync(Subject, Reader("old-leader", next: 40, epoch: 3));
        Assert.Null(await readers.TakeAsync(Subject, 40, 4));
        Assert.Equal(["old-leader"], _deleted);

        await readers.ParkAsync(Subject, Reader("idle", next: 50, epoch: 4));
        await Task.Delay(300);
        Assert.Null(await readers.TakeAsync(Subject, 50, 4));
        Assert.Equal(["old-leader", "idle"], _deleted);
        Assert.Equal(0, readers.Count);
    }

    [Fact]
    public async Task Readers_of_one_partition_at_different_places_each_keep_their_own_and_a_second_at_one_place_is_deleted()
    {
        var readers = New(TimeSpan.FromMinutes(1), 8);
        await readers.ParkAsync(Subject, Reader("a", next: 40, epoch: 1));
        await readers.ParkAsync(Subject, Reader("b", next: 90, epoch: 1));
        await readers.ParkAsync(Subject, Reader("c", next: 90, epoch: 1));

        Assert.Equal(["c"], _deleted);
        Assert.Equal("a", (await readers.TakeAsync(Subject, 40, 1))?.Consumer.Info.Name);
        Assert.Equal("b", (await readers.TakeAsync(Subject, 90, 1))?.Consumer.Info.Name);
    }

    [Fact]
    public async Task Beyond_its_capacity_the_least_recently_read_are_deleted()
    {
        var readers = New(TimeSpan.FromMinutes(1), 2);
        var now = Environment.TickCount64;
        await readers.ParkAsync(Subject, Reader("oldest", next: 10, epoch: 1, fetchedAt: now - 3000));
        await readers.ParkAsync(Subject, Reader("newest", next: 20, epoch: 1, fetchedAt: now));
        await readers.ParkAsync(Subject, Reader("middle", next: 30, epoch: 1, fetchedAt: now - 1000));

        Assert.Equal(["oldest"], _deleted);
        Assert.Equal(2, readers.Count);
        await readers.DeleteAllAsync();
        Assert.Equal(["middle", "newest"], _deleted.Skip(1).Order(StringComparer.Ordinal)); // the store closing deletes the rest
        Assert.Equal(0, readers.Count);
    }

    private ParkedReaders New(TimeSpan idleLimit, int capacity) => new(consumer =>
    {
        _deleted.Add(consumer.Info.Name);
        return ValueTask.CompletedTask;
    }, idleLimit, capacity);

    private static ParkedReader Reader(string name, ulong next, long epoch, long? fetchedAt = null)
        => new(NamedConsumer.Create(name), next, 0, epoch, fetchedAt ?? Environment.TickCount64);

    /// <summary>A consumer that has a name and nothing else: the parking never fetches.</summary>
    public class NamedConsumer : DispatchProxy
    {
        private ConsumerInfo _info = null!;

        public static INatsJSConsumer Create(string name)
        {
            var consumer = Create<INatsJSConsumer, NamedConsumer>();
            ((NamedConsumer)(object)consumer)._info = new ConsumerInfo { Name = name, StreamName = Stream, Config = new ConsumerConfig(name) };
            return consumer;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
            => targetMethod?.Name == "get_Info" ? _info : throw new NotSupportedException(targetMethod?.Name);
    }
}
