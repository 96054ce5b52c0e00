using System.Net;

namespace Halfhour.Client.Transport;

/// <summary>What the backbone answered for one message sent.</summary>
/// <param name="Index">Its position in what was given to <see cref="DipClient.SendAsync(System.Collections.Generic.IReadOnlyList{Messages.DipMessage}, System.Threading.CancellationToken)"/>.</param>
/// <param name="Channel">The channel (interface ID) it was sent on.</param>
/// <param name="SenderUniqueReference">Its sender unique reference.</param>
/// <param name="TransactionId">The backbone's transaction ID when accepted (for a duplicate: the original's).</param>
/// <param name="Code">The result code, e.g. <c>MSG0000</c>.</param>
/// <param name="Text">The result in the DIP's <c>MSGnnnn - Text</c> form.</param>
/// <param name="Help">For a refused message: what is wrong and what to do.</param>
public sealed record MessageResult(int Index, string Channel, string? SenderUniqueReference, string? TransactionId, string Code, string Text, string? Help)
{
    /// <summary>The code of an accepted message.</summary>
    public const string SuccessCode = "MSG0000";

    /// <summary>The code of a message accepted before: a retry, answered with the original transaction ID.</summary>
    public const string DuplicateCode = "MSG0001";

    /// <summary>The code of a message not stored because storage was unavailable: safe to send again.</summary>
    public const string StorageUnavailableCode = "MSG1500";

    /// <summary>True when the backbone holds the message (newly, or from an earlier attempt).</summary>
    public bool Accepted => Code is SuccessCode or DuplicateCode;

    /// <summary>True when the backbone had it already (a retry of an accepted message).</summary>
    public bool Duplicate => Code == DuplicateCode;

    /// <summary>True when sending the same message again may succeed.</summary>
    public bool Retryable => Code == StorageUnavailableCode;

    internal static string CodeOf(string? text) =>
        text is { Length: >= 7 } && text.StartsWith("MSG", StringComparison.Ordinal) ? text[..7] : "unknown";
}

/// <summary>The results of a send, one per message in the order given.</summary>
/// <param name="Messages">One result per message.</param>
public sealed record SendResult(IReadOnlyList<MessageResult> Messages)
{
    /// <summary>True when every message was accepted.</summary>
    public bool AllAccepted => Messages.All(m => m.Accepted);

    /// <summary>The messages the backbone refused.</summary>
    public IEnumerable<MessageResult> Refused => Messages.Where(m => !m.Accepted);
}

/// <summary>
/// The backbone refused a whole request (authentication, signature, size, unknown channel …), answering an RFC 9457
/// problem; or it could not be reached after every retry. Nothing of the request was stored when it was refused.
/// </summary>
public sealed class DipRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DipRequestException(string message, HttpStatusCode? statusCode = null, string? reason = null, Exception? innerException = null)
        : base(message, innerException)
    {
        StatusCode = statusCode;
        Reason = reason;
    }

    /// <summary>Creates the exception with a message.</summary>
    public DipRequestException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public DipRequestException(string message, Exception innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public DipRequestException()
    {
    }

    /// <summary>The HTTP status the backbone answered; null when it could not be reached.</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The problem's stable <c>reason</c> (e.g. <c>signature-mismatch</c>), when the backbone gave one.</summary>
    public string? Reason { get; }
}
