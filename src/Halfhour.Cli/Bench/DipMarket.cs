using System.Text.Json;
using System.Text.Json.Serialization;
using Halfhour.Client.Transport;
using Halfhour.Market.Consumption;
using Halfhour.Market.Participants;

namespace Halfhour.Cli.Bench;

/// <summary>One participant's credentials on disk, in the shape of the sandbox's <c>participants.json</c> entries.</summary>
/// <param name="DipId">The DIP ID.</param>
/// <param name="Role">The market role.</param>
/// <param name="ApiKey">The API key, in clear.</param>
/// <param name="Certificate">The path of the PEM certificate.</param>
/// <param name="PrivateKey">The path of the PEM private key.</param>
internal sealed record ParticipantCredentials(string DipId, Role Role, string ApiKey, string Certificate, string PrivateKey);

/// <summary>
/// The market of the DIP benchmark: the consumption roster's participants (one data service sending for every
/// MPAN, the suppliers, distributors and central services receiving), enrolled in a running backbone through its
/// operator API with certificates issued by the backbone's own authority, beside the sandbox's DEV participants.
/// </summary>
internal static class DipMarket
{
    /// <summary>The environment the benchmark publishes in: the sandbox's.</summary>
    public const MarketEnvironment Environment = MarketEnvironment.DEV;

    // One data service sends every message, so a batch of 100 always has one sender (a DIP request has one caller);
    // a handful of suppliers is enough to spread the primary recipients over several inboxes.
    private const int Suppliers = 4;
    private const int DataServices = 1;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    /// <summary>The roster every process of one benchmark agrees on.</summary>
    public static ConsumptionRoster Roster() => new(Suppliers, DataServices);

    /// <summary>The message builder every process of one benchmark agrees on.</summary>
    public static ConsumptionMessageBuilder Builder() =>
        new(new ConsumptionMessageOptions { Environment = Environment, Seed = 2026 }, Roster());

    /// <summary>The sandbox's DEV participants of a data directory.</summary>
    public static List<ParticipantCredentials> Sandbox(string dataDirectory) =>
        Read(Path.Combine(dataDirectory, "sandbox", "participants.json"));

    /// <summary>Reads a list of credentials written by <see cref="Write"/> or by the sandbox.</summary>
    public static List<ParticipantCredentials> Read(string path) =>
        JsonSerializer.Deserialize<List<ParticipantCredentials>>(File.ReadAllBytes(path), Json) ?? [];

    /// <summary>Writes a list of credentials.</summary>
    public static void Write(string path, IReadOnlyList<ParticipantCredentials> credentials) =>
        File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(credentials, Json));

    /// <summary>The authority that signed the backbone's certificate.</summary>
    public static PrivateCaTrust Trust(string dataDirectory) => PrivateCaTrust.FromPemFile(Path.Combine(dataDirectory, "sandbox", "ca.pem"));

    /// <summary>A client of one participant: mutual TLS with its certificate, its API key, and DIP signatures on every request.</summary>
    public static HttpClient Connect(Uri url, PrivateCaTrust trust, ParticipantCredentials participant) =>
        DipHttpClient.Create(new DipConnection
        {
            BaseAddress = url,
            Certificate = PemCredentials.Load(participant.Certificate, participant.PrivateKey),
            ApiKey = participant.ApiKey,
            ServerTrust = trust,
        });

    /// <summary>The operator API of the backbone at <paramref name="url"/>, with the key its sandbox wrote under <paramref name="dataDirectory"/>.</summary>
    public static async Task<OperatorClient> OperatorAsync(Uri url, string dataDirectory, CancellationToken cancellationToken)
        => new(url, Trust(dataDirectory), (await File.ReadAllTextAsync(Path.Combine(dataDirectory, "sandbox", "operator-api-key.txt"), cancellationToken)).Trim());

    /// <summary>
    /// Registers every roster participant (or, when already registered, rotates its credentials) and writes each
    /// one's issued certificate and key under <paramref name="folder"/>.
    /// </summary>
    public static async Task<List<ParticipantCredentials>> EnrolAsync(Uri url, string dataDirectory, string folder, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        using var operatorApi = await OperatorAsync(url, dataDirectory, cancellationToken);
        var enrolled = new List<ParticipantCredentials>();
        foreach (var p in Roster().Participants(Environment))
        {
            var issued = await operatorApi.EnrolAsync(p.DipId, p.Role.ToString(), p.Mpid, p.Name, Environment.ToString(), cancellationToken);
            var certificate = Path.Combine(folder, p.DipId + ".pem");
            var key = Path.Combine(folder, p.DipId + "-key.pem");
            await File.WriteAllTextAsync(certificate, issued.CertificatePem, cancellationToken);
            await File.WriteAllTextAsync(key, issued.PrivateKeyPem, cancellationToken);
            enrolled.Add(new ParticipantCredentials(p.DipId, p.Role, issued.ApiKey, certificate, key));
        }

        return enrolled;
    }
}
