using Halfhour.Broker.Deduplication;
using Halfhour.Broker.Messages;
using Halfhour.Broker.Tests.Support;

namespace Halfhour.Broker.Tests.Deduplication;

public class SenderReferenceIndexTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 27, 23, 59, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("IF-021", "1234567890", "SDS", 0, 0L)]
    [InlineData("IF-036", "9900000001", "REGS", 7, 123_456_789_012L)]
    [InlineData("statusmessage", "9900000002", "SUP", 999, 9_999_999_999_999L)]
    [InlineData("REP-002A", "X", "MDS", 12, 42L)]
    public void A_committed_reference_answers_its_transaction_id_exactly(string interfaceId, string sender, string role, int partition, long offset)
    {
        var index = new SenderReferenceIndex(TimeSpan.FromDays(2), new ManualClock(Start));
        var id = TransactionId.Create(interfaceId, sender, role, Start, partition, offset);
        var key = SenderReferenceIndex.KeyOf("DEV", sender, "REF-1");

        Assert.Equal(ReservationState.Reserved, index.Reserve(key).State);
        index.Commit(key, id, Start);

        var again = index.Reserve(key);
        Assert.Equal((ReservationState.Committed, id), (again.State, again.TransactionId));
    }

    [Theory]
    [InlineData("DEV", "1234567890", "REF-1")]
    [InlineData("PRD", "9900000001", "ünïcødé-ref")]
    [InlineData("SIT", "9900000002", "")]
    public void A_key_is_the_hash_of_the_three_fields_each_followed_by_a_separator_as_stored_by_earlier_versions(string environment, string sender, string reference)
    {
        // Keys outlive a version (shared claims on a cluster, the index rebuilt from stored events): they must not change.
        var longReference = reference + new string('x', 300); // past the stack buffer
        foreach (var r in new[] { reference, longReference })
        {
            var expected = new System.IO.Hashing.XxHash3();
            foreach (var field in new[] { environment, sender, r })
            {
                expected.Append([.. System.Text.Encoding.UTF8.GetBytes(field), 0x1F]);
            }

            Assert.Equal(expected.GetCurrentHashAsUInt64(), SenderReferenceIndex.KeyOf(environment, sender, r));
        }

        Assert.NotEqual(SenderReferenceIndex.KeyOf(environment, sender + "a", reference), SenderReferenceIndex.KeyOf(environment, sender, "a" + reference));
    }

    [Theory]
    [InlineData("IF-021", "1234567890", "SDS", 0, 0L)]
    [InlineData("IF-036", "9900000001", "REGS", 7, 123_456_789_012L)]
    [InlineData("statusmessage", "9900000002", "SUP", 999, 9_999_999_999_999L)]
    [InlineData("IF-021", "9900000003", "MDS", 1000, 5L)] // past three digits of partition: not packable, spelled out
    [InlineData("IF-021", "9900000004", "MDS", 3, 10_000_000_000_000L)] // past thirteen digits of offset
    [InlineData("IF-021", "99000000é5", "MDS", 3, 5L)] // not ASCII
    public void A_reference_restored_from_a_stored_message_answers_the_same_id_and_key_as_the_live_path(string interfaceId, string sender, string role, int partition, long offset)
    {
        var message = new StoredMessage
        {
            InterfaceId = interfaceId, EventCode = "ActivePower", AcceptedAt = Start, SenderDipId = sender, SenderRole = role,
            SenderUniqueReference = "REF-9", Body = "{}"u8.ToArray(),
        };
        var stored = StoredMessage.ReadReference(message.ToArray());
        var index = new SenderReferenceIndex(TimeSpan.FromDays(2), new ManualClock(Start));
        var key = SenderReferenceIndex.KeyOf(System.Text.Encoding.UTF8.GetBytes("DEV"), stored.SenderDipId, stored.SenderUniqueReference);

        index.Restore(key, stored, partition, offset);

        Assert.Equal(SenderReferenceIndex.KeyOf("DEV", sender, "REF-9"), key);
        var found = index.Reserve(key);
        Assert.Equal((ReservationState.Committed, TransactionId.Create(interfaceId, sender, role, Start, partition, offset)), (found.State, found.TransactionId));
        Assert.Equal(1, index.Count);
    }

    [Fact]
    public void A_stored_reference_outside_the_window_is_not_restored()
    {
        var message = new StoredMessage
        {
            InterfaceId = "IF-021", EventCode = "ActivePower", AcceptedAt = Start - TimeSpan.FromDays(3), SenderDipId = "1234567890", SenderRole = "SDS",
            SenderUniqueReference = "REF-OLD", Body = "{}"u8.ToArray(),
        };
        var index = new SenderReferenceIndex(TimeSpan.FromDays(2), new ManualClock(Start));

        index.Restore(17, StoredMessage.ReadReference(message.ToArray()), 1, 2);

        Assert.Equal(0, index.Count);
        Assert.Equal(ReservationState.Reserved, index.Reserve(17).State);
    }

    [Fact]
    public void An_id_not_of_the_backbones_form_is_kept_as_it_is()
    {
        var index = new SenderReferenceIndex(TimeSpan.FromDays(2), new ManualClock(Start));
        foreach (var (n, id) in new[] { "from-another-system", "T-IF-021-1-SDS-2026112X-0000000000000001", "T--20261127-0000000000000001" }.Index())
        {
            var key = (ulong)n + 1;
            index.Reserve(key);
            index.Commit(key, id, Start);
            Assert.Equal(id, index.Reserve(key).TransactionId);
        }

        Assert.Equal(3, index.Count);
    }

    [Fact]
    public void A_reference_is_forgotten_after_the_window_and_may_then_be_reserved_again()
    {
        var clock = new ManualClock(Start);
        var index = new SenderReferenceIndex(TimeSpan.FromHours(1), clock);
        var key = SenderReferenceIndex.KeyOf("DEV", "1234567890", "REF-2");
        index.Reserve(key);
        index.Commit(key, TransactionId.Create("IF-021", "1234567890", "SDS", Start, 1, 2), Start);
        index.Restore(7, "T-IF-021-1234567890-SDS-20261127-0010000000000003", Start - TimeSpan.FromHours(2)); // already outside the window

        clock.Now = Start + TimeSpan.FromMinutes(59);
        Assert.Equal(ReservationState.Committed, index.Reserve(key).State);
        Assert.Equal(ReservationState.Reserved, index.Reserve(7).State);

        clock.Now = Start + TimeSpan.FromMinutes(61);
        Assert.Equal(ReservationState.Reserved, index.Reserve(key).State);
    }

    [Fact]
    public async Task A_request_waiting_on_a_held_reference_gets_the_id_once_it_is_committed()
    {
        var index = new SenderReferenceIndex(TimeSpan.FromDays(2), new ManualClock(Start));
        var id = TransactionId.Create("IF-021", "1234567890", "SDS", Start, 3, 99);
        Assert.Equal(ReservationState.Reserved, index.Reserve(5).State);
        var waiting = index.Reserve(5);
        Assert.Equal(ReservationState.HeldByAnother, waiting.State);

        index.Commit(5, id, Start);
        Assert.Equal(id, await waiting.Pending!);
    }
}
