using System.Text;
using Halfhour.Cli.Bench;

namespace Halfhour.Cli.Tests.Bench;

public class BatchAnswerTests
{
    /// <summary>A StandardResponse as the backbone writes it: every property present, null where it does not apply.</summary>
    private static byte[] Answer(params (string Message, string? Help)[] results)
    {
        var items = results.Select((r, i) =>
            $$"""{"transactionID":"t-{{i}}","senderUniqueReference":"s-{{i}}","correlationID":null,"sentTimestamp":"2026-11-27T08:00:00+00:00","senderID":"1000000001","recipientID":null,"DIPConnectionProviderID":null,"message":"{{r.Message}}","help":{{(r.Help is null ? "null" : $"\"{r.Help}\"")}},"serviceTicketURL":null}""");
        return Encoding.UTF8.GetBytes($$"""{"messageArray":[{{string.Join(',', items)}}],"timestamp":"2026-11-27T08:00:01+00:00"}""");
    }

    [Fact]
    public void Accepted_messages_are_counted_and_nothing_is_refused()
    {
        var answer = BatchAnswer.Of(Answer(("MSG0000 - Success", null), ("MSG0000 - Success", null)), isRetry: false, mayRetry: true);

        Assert.Equal(new BatchAnswer(2, 2, 0, null), answer);
    }

    [Fact]
    public void A_duplicate_is_accepted_on_a_retry_but_refused_on_a_first_attempt()
    {
        var body = Answer(("MSG0001 - Duplicate", "sent before"), ("MSG0000 - Success", null));

        Assert.Equal(new BatchAnswer(2, 2, 0, null), BatchAnswer.Of(body, isRetry: true, mayRetry: true));
        Assert.Equal(new BatchAnswer(2, 1, 0, "MSG0001 - Duplicate sent before"), BatchAnswer.Of(body, isRetry: false, mayRetry: true));
    }

    [Fact]
    public void Storage_unavailable_is_retryable_while_attempts_remain_and_a_refusal_after_the_last()
    {
        var body = Answer(("MSG0000 - Success", null), ("MSG1500 - Retry", "storage unavailable"));

        Assert.Equal(new BatchAnswer(2, 1, 1, null), BatchAnswer.Of(body, isRetry: false, mayRetry: true));
        Assert.Equal(new BatchAnswer(2, 1, 0, "MSG1500 - Retry storage unavailable"), BatchAnswer.Of(body, isRetry: true, mayRetry: false));
    }

    [Fact]
    public void The_first_refusal_is_kept_in_words_with_its_help()
    {
        var answer = BatchAnswer.Of(Answer(("MSG0000 - Success", null), ("MSG1003 - Invalid MPAN", "check digit of 1200000000001"), ("MSG1004 - Other", "later")),
            isRetry: false, mayRetry: true);

        Assert.Equal(new BatchAnswer(3, 1, 0, "MSG1003 - Invalid MPAN check digit of 1200000000001"), answer);
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("""{"type":"about:blank","title":"Unauthorized","status":401}""")]
    [InlineData("""{"messageArray":[{"message":"MSG0000 - Success"}""")]
    [InlineData("""{"messageArray":null}""")]
    public void An_answer_that_is_not_a_standard_response_is_not_tallied(string body)
    {
        Assert.Null(BatchAnswer.Of(Encoding.UTF8.GetBytes(body), isRetry: false, mayRetry: true));
    }
}
