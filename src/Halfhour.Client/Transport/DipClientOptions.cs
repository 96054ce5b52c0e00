using System.Security.Cryptography.X509Certificates;
using Halfhour.Client.Messages;

namespace Halfhour.Client.Transport;

/// <summary>Everything a <see cref="DipClient"/> needs: who the participant is, where the backbone is, its credentials and its policies.</summary>
public sealed record DipClientOptions
{
    /// <summary>The DIP's largest array per request (and Halfhour's default): a send of more messages is split into requests of this many.</summary>
    public const int DipMaxBatchSize = 100;

    /// <summary>The backbone's base address, e.g. <c>https://127.0.0.1:8443/</c>.</summary>
    public required Uri BaseAddress { get; init; }

    /// <summary>The participant's 10-digit DIP ID.</summary>
    public required string DipId { get; init; }

    /// <summary>The participant's role code, e.g. <c>SDS</c>.</summary>
    public required string Role { get; init; }

    /// <summary>The environment the credentials belong to, e.g. <c>PRD</c> or <c>DEV</c>.</summary>
    public required string Environment { get; init; }

    /// <summary>The participant's certificate with its RSA private key: presented for mutual TLS and used to sign every request.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>The participant's API key, sent as <c>X-API-Key</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The authority that issued the backbone's TLS certificate (a sandbox CA); null trusts the machine's roots.</summary>
    public PrivateCaTrust? ServerTrust { get; init; }

    /// <summary>Sign every request with the DIP signature headers (needs <see cref="Certificate"/>).</summary>
    public bool SignRequests { get; init; } = true;

    /// <summary>When to send again after a failure.</summary>
    public DipRetryPolicy Retry { get; init; } = DipRetryPolicy.Default;

    /// <summary>Messages per request, 1 to the backbone's limit.</summary>
    public int MaxBatchSize { get; init; } = DipMaxBatchSize;

    /// <summary>
    /// Requests one send may have in flight at once (1 sends them one after another). Four keep a backbone's group commit
    /// fed from one sender while each waits for its fsync, without one participant taking a large share of its connections.
    /// </summary>
    public int MaxParallelRequests { get; init; } = 4;

    /// <summary>The longest one HTTP attempt may take; a long poll adds its wait to it.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>The clock messages are timestamped by.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>The sender the builders stamp into S1.</summary>
    public DipSender Sender => new(DipId, Role, Environment);

    internal DipConnection Connection => new()
    {
        BaseAddress = BaseAddress, Certificate = Certificate, ApiKey = ApiKey, ServerTrust = ServerTrust, SignRequests = SignRequests,
    };
}
