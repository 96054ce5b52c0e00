namespace Halfhour.Market.Validation;

/// <summary>
/// The stable result code of one message, in the DIP's <c>MSGnnnn - Text</c> style. The numbers never
/// change meaning once published; new outcomes get new numbers. <see cref="MessageCodes"/> holds the table.
/// </summary>
public enum MessageCode : short
{
    /// <summary>MSG0000: accepted and stored.</summary>
    Success = 0,
    /// <summary>MSG0001: a retry of a message already accepted; nothing new was stored, the original transaction ID is returned.</summary>
    Duplicate = 1,
    /// <summary>MSG1001: the message does not match the interface's schema (type, length, pattern, enum, required, unknown field).</summary>
    SchemaFailure = 1001,
    /// <summary>MSG1002: the message matches the schema but breaks a market rule (check digit, date, settlement periods, quality flags).</summary>
    SemanticFailure = 1002,
    /// <summary>MSG1003: the message is not well-formed JSON, or not a <c>{"payload":…}</c> object.</summary>
    MalformedMessage = 1003,
    /// <summary>MSG1004: the interface ID is not in the catalogue.</summary>
    UnknownInterface = 1004,
    /// <summary>MSG1005: S0.interfaceID differs from the channel the message was sent to.</summary>
    InterfaceMismatch = 1005,
    /// <summary>MSG1006: the event code or schema version is not one the interface defines.</summary>
    UnknownEventOrVersion = 1006,
    /// <summary>MSG1007: S1 sender DIP ID or role differs from the authenticated participant.</summary>
    SenderMismatch = 1007,
    /// <summary>MSG1008: S1.environmentTag differs from the environment of the caller's credentials.</summary>
    EnvironmentMismatch = 1008,
    /// <summary>MSG1009: the sender's role may not send this interface.</summary>
    NotEntitled = 1009,
    /// <summary>MSG1010: a primary recipient does not exist or holds no receiving role of the interface.</summary>
    InvalidRecipient = 1010,
    /// <summary>MSG1011: the message exceeds a limit (size, depth, array length).</summary>
    LimitExceeded = 1011,
    /// <summary>MSG1012: a status message names a transaction ID the backbone does not hold in the caller's environment.</summary>
    UnknownTransaction = 1012,
    /// <summary>MSG1013: a status message is about a message that was not routed to its sender; status goes only to messages one received.</summary>
    NotARecipient = 1013,
    /// <summary>MSG1014: the status message is valid but was not stored because another in its batch was refused; resend it.</summary>
    BatchRefused = 1014,
    /// <summary>MSG1500: the backbone could not store the message; nothing was stored, retry with the same sender unique reference.</summary>
    StorageUnavailable = 1500,
}

/// <summary>The table of result codes: the code string and the short text a participant sees.</summary>
public static class MessageCodes
{
    /// <summary>The wire form of a code, e.g. <c>MSG1001</c>.</summary>
    public static string Code(MessageCode code) => code switch
    {
        MessageCode.Success => "MSG0000",
        MessageCode.Duplicate => "MSG0001",
        _ => "MSG" + ((int)code).ToString("D4", System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>The short text of a code, e.g. <c>Schema Failure</c>.</summary>
    public static string Text(MessageCode code) => code switch
    {
        MessageCode.Success => "Success",
        MessageCode.Duplicate => "Duplicate - Already Accepted",
        MessageCode.SchemaFailure => "Schema Failure",
        MessageCode.SemanticFailure => "Semantic Failure",
        MessageCode.MalformedMessage => "Malformed Message",
        MessageCode.UnknownInterface => "Unknown Interface",
        MessageCode.InterfaceMismatch => "Interface Mismatch",
        MessageCode.UnknownEventOrVersion => "Unknown Event Code or Schema Version",
        MessageCode.SenderMismatch => "Sender Mismatch",
        MessageCode.EnvironmentMismatch => "Environment Mismatch",
        MessageCode.NotEntitled => "Not Entitled",
        MessageCode.InvalidRecipient => "Invalid Recipient",
        MessageCode.LimitExceeded => "Limit Exceeded",
        MessageCode.UnknownTransaction => "Unknown Transaction",
        MessageCode.NotARecipient => "Not a Recipient",
        MessageCode.BatchRefused => "Batch Refused - Resend",
        MessageCode.StorageUnavailable => "Storage Unavailable - Retry",
        _ => "Unknown",
    };

    /// <summary>The DIP's combined form, e.g. <c>MSG1001 - Schema Failure</c>.</summary>
    public static string Display(MessageCode code) => Code(code) + " - " + Text(code);

    /// <summary>True for the outcomes that mean the message is stored (new or earlier).</summary>
    public static bool IsAccepted(MessageCode code) => code is MessageCode.Success or MessageCode.Duplicate;
}
