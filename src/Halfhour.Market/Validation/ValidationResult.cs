namespace Halfhour.Market.Validation;

/// <summary>
/// The outcome of validating one message: a stable code, the JSON pointer of the first failing field,
/// the rule broken, and a sentence a participant's developer can act on.
/// </summary>
/// <param name="Code">The result code.</param>
/// <param name="Pointer">JSON pointer (RFC 6901) of the first failing field, e.g. <c>/payload/CommonBlock/M0/MPANCore</c>; null on success.</param>
/// <param name="Rule">The rule broken, a short stable identifier such as <c>mpan-check-digit</c> or <c>schema:pattern</c>; null on success.</param>
/// <param name="Detail">What is wrong and what to do about it; null on success.</param>
public sealed record ValidationResult(MessageCode Code, string? Pointer = null, string? Rule = null, string? Detail = null)
{
    /// <summary>The shared success result.</summary>
    public static ValidationResult Valid { get; } = new(MessageCode.Success);

    /// <summary>True when the message passed.</summary>
    public bool IsValid => Code == MessageCode.Success;

    /// <summary>A failure with its pointer, rule and advice.</summary>
    public static ValidationResult Fail(MessageCode code, string pointer, string rule, string detail) => new(code, pointer, rule, detail);

    /// <inheritdoc />
    public override string ToString() => IsValid ? MessageCodes.Display(Code) : $"{MessageCodes.Display(Code)} at {Pointer} ({Rule}): {Detail}";
}
