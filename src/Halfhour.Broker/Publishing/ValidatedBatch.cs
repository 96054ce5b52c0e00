using System.Text.Json;
using Halfhour.Market.Validation;

namespace Halfhour.Broker.Publishing;

/// <summary>One message of a batch as validation left it: where it lies in the body, what was read of it, and the verdict.</summary>
/// <param name="Range">The message's bytes within the body.</param>
/// <param name="Facts">What the validator read of the message (partly filled when it was refused).</param>
/// <param name="Verdict">The validator's verdict.</param>
public readonly record struct ValidatedMessage(Range Range, MessageFacts Facts, ValidationResult Verdict);

/// <summary>
/// The messages of a batch validated by one <see cref="IMessageValidator"/>, in the order met. Whoever reads the batch's
/// array (the server's shape check) hands each message to <see cref="Read"/> where its reader stands, so a message is
/// tokenised once for both the array and its own validation; <see cref="PublishPipeline"/> then takes the verdicts instead
/// of reading the messages again. Not thread-safe: one batch, one reader.
/// </summary>
public sealed class ValidatedBatch(IMessageValidator validator)
{
    private readonly List<ValidatedMessage> _messages = [];

    /// <summary>The validator every verdict comes from; the pipeline takes only its own validator's verdicts.</summary>
    public IMessageValidator Validator { get; } = validator ?? throw new ArgumentNullException(nameof(validator));

    /// <summary>The messages validated so far, in order.</summary>
    public IReadOnlyList<ValidatedMessage> Messages => _messages;

    /// <summary>
    /// Validates the message <paramref name="reader"/> stands on (its first token) within <paramref name="body"/> and leaves
    /// the reader on its last token. A <see cref="JsonException"/> (the body is not well-formed there) propagates.
    /// </summary>
    public void Read(ref Utf8JsonReader reader, ReadOnlySpan<byte> body)
    {
        var start = (int)reader.TokenStartIndex;
        var facts = new MessageFacts();
        var verdict = Validator.Validate(ref reader, body, facts);
        _messages.Add(new ValidatedMessage(new Range(start, (int)reader.BytesConsumed), facts, verdict));
    }

    /// <summary>Validates the message at <paramref name="range"/> of <paramref name="body"/> from its bytes (the messages were found by another pass).</summary>
    public void Add(Range range, ReadOnlySpan<byte> body)
    {
        var facts = new MessageFacts();
        var verdict = Validator.Validate(body[range], facts);
        _messages.Add(new ValidatedMessage(range, facts, verdict));
    }
}
