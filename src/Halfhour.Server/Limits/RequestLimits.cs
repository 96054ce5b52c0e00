namespace Halfhour.Server.Limits;

/// <summary>What one request, and one participant per second, may ask of the server. Each value says why.</summary>
public sealed record RequestLimits
{
    /// <summary>
    /// 8 MiB. An IF-021 message for one MPAN and one settlement day is about 6 KB (48 periods of ~100 bytes plus the
    /// common block), so a batch of 1,000 such messages fits, while a single request cannot tie up much memory.
    /// </summary>
    public long MaxRequestBodyBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>1,000 messages a request: large enough for bulk submission, small enough that one batch is answered in well under a second.</summary>
    public int MaxMessagesPerRequest { get; init; } = 1000;

    /// <summary>
    /// 32 levels. The deepest DIP payloads (IF-021: array, message, payload, CustomBlock, B900, settlement days,
    /// day, periods, period) nest about ten deep; 32 leaves room and still bounds the parser's work per request.
    /// </summary>
    public int MaxJsonDepth { get; init; } = 32;

    /// <summary>
    /// 50 requests a second per participant, sustained. 400 participants at that rate would be 20,000 requests a
    /// second, two orders above the market's average (30 million messages a day is about 350 a second).
    /// </summary>
    public int RequestsPerSecond { get; init; } = 50;

    /// <summary>A burst of 200 requests: a participant catching up after an outage sends in bursts before settling to its rate.</summary>
    public int RequestBurst { get; init; } = 200;

    /// <summary>How far a message signature's date may differ from the server's clock (see the signature verifier).</summary>
    public TimeSpan SignatureClockSkew { get; init; } = Client.Signing.SignatureVerificationOptions.DefaultClockSkew;
}
