using System.Globalization;
using System.Text.RegularExpressions;
using Halfhour.Client.Contract;
using Halfhour.Market.Validation;

namespace Halfhour.Server.StatusMessages;

/// <summary>
/// The DIP's field types of a status message (StandardResponseBodyType) beyond what JSON binding checks: lengths,
/// patterns and DT-003 date-times. The first failure names the field as a JSON pointer into the message and says
/// what to send instead.
/// </summary>
internal static partial class StatusMessageFields
{
    public static ValidationResult Check(MessageResponse message)
        => Text(message.TransactionId, "transactionID", 1, 65, required: true)
           ?? Text(message.SenderUniqueReference, "senderUniqueReference", 1, 200)
           ?? (message.SenderUniqueReference is { } reference && !SenderReferencePattern().IsMatch(reference)
               ? Fail("senderUniqueReference", "schema:pattern", $"'{reference}' is not a DT-995 sender unique reference such as S-IF-005-0123456789-SUP-20220401-1a2b.")
               : null)
           ?? Text(message.CorrelationId, "correlationID", 1, 60)
           ?? (message.SentTimestamp is not { Length: 25 } sent ||
               !DateTimeOffset.TryParseExact(sent, "yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)
               ? Fail("sentTimestamp", "schema:format", $"sentTimestamp must be a DT-003 date-time such as 2026-11-27T09:05:00+00:00; got '{message.SentTimestamp}'.")
               : null)
           ?? DipId(message.SenderId, "senderID", required: true)
           ?? DipId(message.RecipientId, "recipientID")
           ?? DipId(message.DipConnectionProviderId, "DIPConnectionProviderID")
           ?? Text(message.Message, "message", 1, 200)
           ?? Text(message.Help, "help", 1, 500)
           ?? Text(message.ServiceTicketUrl, "serviceTicketURL", 1, 250)
           ?? ValidationResult.Valid;

    private static ValidationResult? Text(string? value, string field, int min, int max, bool required = false)
    {
        if (value is null)
        {
            return required ? Fail(field, "schema:required", $"{field} is required here and may not be null.") : null;
        }

        return value.Length < min || value.Length > max ? Fail(field, "schema:length", $"{field} holds {min} to {max} characters; got {value.Length}.") : null;
    }

    private static ValidationResult? DipId(string? value, string field, bool required = false)
        => value is null && !required
            ? null
            : value is not { Length: 10 } || !value.All(char.IsAsciiDigit)
                ? Fail(field, "schema:pattern", $"{field} is a 10-digit DIP participant ID{(required ? "" : " or null")}; got '{value}'.")
                : null;

    private static ValidationResult Fail(string field, string rule, string detail) => ValidationResult.Fail(MessageCode.SchemaFailure, "/" + field, rule, detail);

    // DT-995N as the DIP specification writes it, with ASCII digits.
    [GeneratedRegex("^S-((IF|REP)-)?[0-9]{3}[A-B]?-[0-9a-fA-F]{10}-[A-Z]{3,5}-[0-9]{8}-[a-zA-Z0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex SenderReferencePattern();
}
