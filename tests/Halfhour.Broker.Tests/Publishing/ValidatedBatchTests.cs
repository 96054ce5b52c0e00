using System.Text.Json;
using Halfhour.Broker.Publishing;
using Halfhour.Broker.Tests.Support;
using Halfhour.Market.Validation;

namespace Halfhour.Broker.Tests.Publishing;

/// <summary>The pipeline takes the verdicts of a batch validated where its array was read, and only its own validator's.</summary>
public class ValidatedBatchTests
{
    [Fact]
    public async Task A_batch_validated_on_the_arrays_reader_is_published_with_the_verdicts_of_its_bytes()
    {
        await using var f = await BrokerFixture.StartAsync(EngineKind.Embedded);
        var sender = f.SenderOf(0);
        var numbers = Enumerable.Range(0, 400).Select(n => (long)n).Where(n => f.SenderOf(n).DipId == sender.DipId).Take(3).ToArray();
        var body = f.Batch(numbers);
        var batch = ReadInOnePass(f.Backbone.Publisher.Validator, body);

        var result = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", body, batch);

        Assert.Equal(201, result.StatusCode);
        Assert.Equal(numbers.Length, result.Messages.Select(m => m.TransactionId).Distinct().Count());
        Assert.Equal(batch.Messages.Select(m => m.Facts.SenderUniqueReference), result.Messages.Select(m => m.SenderUniqueReference));
    }

    [Fact]
    public async Task A_batch_validated_by_another_validator_is_refused_before_anything_is_stored()
    {
        await using var f = await BrokerFixture.StartAsync(EngineKind.Embedded);
        var sender = f.SenderOf(0);
        var body = f.Batch(0);

        await Assert.ThrowsAsync<ArgumentException>(async () =>
            await f.Backbone.Publisher.PublishAsync(sender, "IF-021", body, ReadInOnePass(new MessageValidator(), body)));

        // Nothing was reserved: the same message is new.
        var result = await f.Backbone.Publisher.PublishAsync(sender, "IF-021", body);
        Assert.Equal(MessageCode.Success, Assert.Single(result.Messages).Code);
    }

    private static ValidatedBatch ReadInOnePass(IMessageValidator validator, byte[] body)
    {
        var batch = new ValidatedBatch(validator);
        var reader = new Utf8JsonReader(body);
        reader.Read();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            batch.Read(ref reader, body);
        }

        return batch;
    }
}
