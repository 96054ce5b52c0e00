using System.Collections.Frozen;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;
using Halfhour.Client.Signing;
using Halfhour.Market.Participants;
using Halfhour.Server.Credentials;
using Halfhour.Server.Storage;

namespace Halfhour.Server.Participants;

/// <summary>
/// Who may connect: every participant of every environment, with its registered certificates and API-key hashes.
/// Reads are lock-free lookups in an immutable snapshot (one per change); changes are serialised, written to
/// storage first and only then made visible. Failure semantics: the document is replaced whole (a file with
/// <see cref="AtomicFile"/>, or a shared document with compare-and-set), so a crash during a change leaves the
/// registry as it was before the change or after it; a change that fails to write is not applied in memory either.
/// When another node changed the shared document first, the change is applied again to its version.
/// </summary>
public sealed class ParticipantRegistry
{
    private static readonly JsonSerializerOptions s_json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    private readonly IRegistryStorage _storage;
    private readonly TimeProvider _clock;
    private readonly Lock _writer = new();
    private volatile Snapshot _snapshot;
    private ulong _revision;

    private ParticipantRegistry(IRegistryStorage storage, TimeProvider clock)
    {
        _storage = storage;
        _clock = clock;
        _snapshot = Snapshot.Of([]);
        Refresh();
    }

    /// <summary>Opens the registry file, or starts an empty registry that will be written there on its first change.</summary>
    public static ParticipantRegistry Open(string path, TimeProvider? clock = null) => Open(new FileRegistryStorage(path), clock);

    /// <summary>Opens the registry kept in <paramref name="storage"/>.</summary>
    public static ParticipantRegistry Open(IRegistryStorage storage, TimeProvider? clock = null) => new(storage, clock ?? TimeProvider.System);

    /// <summary>Reads the stored registry again when another node changed it; true when it had changed.</summary>
    public bool Refresh()
    {
        lock (_writer)
        {
            var (document, revision) = _storage.Read();
            if (revision == _revision && _revision != 0)
            {
                return false;
            }

            var participants = document is null ? [] : (JsonSerializer.Deserialize<RegistryFile>(document, s_json)
                ?? throw new InvalidDataException("The participant registry is empty; restore it from backup or delete it to start afresh.")).Participants;
            _snapshot = Snapshot.Of(participants);
            _revision = revision;
            return true;
        }
    }

    /// <summary>Every participant, or those of one environment, ordered by environment and DIP ID.</summary>
    public IReadOnlyList<RegisteredParticipant> List(MarketEnvironment? environment = null) =>
        [.. _snapshot.All.Where(p => environment is null || p.Participant.Environment == environment)
            .OrderBy(p => p.Participant.Environment).ThenBy(p => p.Participant.DipId, StringComparer.Ordinal)];

    /// <summary>The participant with a DIP ID in an environment, or null.</summary>
    public RegisteredParticipant? Find(ParticipantKey key) => _snapshot.ByKey.GetValueOrDefault(key);

    /// <summary>The participants holding a role in an environment (routing reads this on every message, so it is precomputed per snapshot).</summary>
    public IReadOnlyList<Participant> InRole(MarketEnvironment environment, Role role) =>
        _snapshot.ByRole.GetValueOrDefault((environment, role)) ?? [];

    /// <summary>The SHA-256 thumbprints of a participant's registered certificates (empty when it is unknown): what its signatures are checked against.</summary>
    public IReadOnlySet<string> CertificateThumbprints(ParticipantKey key) =>
        _snapshot.ThumbprintsByKey.GetValueOrDefault(key) ?? FrozenSet<string>.Empty;

    /// <summary>The participant a certificate (by SHA-256 thumbprint) identifies, or null.</summary>
    public RegisteredParticipant? FindByCertificate(string thumbprint) =>
        _snapshot.ByThumbprint.GetValueOrDefault(thumbprint.ToUpperInvariant());

    /// <summary>The participant an API key identifies, or null.</summary>
    public RegisteredParticipant? FindByApiKey(string apiKey) =>
        _snapshot.ByApiKeyHash.GetValueOrDefault(ApiKeys.Hash(apiKey));

    /// <summary>Registers a new participant with its first credentials.</summary>
    public RegisteredParticipant Add(Participant participant, IEnumerable<X509Certificate2> certificates, IEnumerable<string> apiKeyHashes)
    {
        ArgumentNullException.ThrowIfNull(participant);
        Validate(participant);
        var now = _clock.GetUtcNow();
        var registered = new RegisteredParticipant
        {
            Participant = participant,
            Certificates = [.. certificates.Select(c => Describe(c, now))],
            ApiKeys = [.. apiKeyHashes.Select(h => new RegisteredApiKey(h.ToUpperInvariant(), now))],
        };
        if (registered.Certificates.Count == 0 && registered.ApiKeys.Count == 0)
        {
            throw new RegistryException(RegistryRefusal.LastCredential,
                $"Participant {registered.Key} needs at least one certificate or API key to identify itself.");
        }

        return Change(snapshot =>
        {
            if (snapshot.ByKey.ContainsKey(registered.Key))
            {
                throw new RegistryException(RegistryRefusal.AlreadyExists, $"Participant {registered.Key} is already registered; rotate its credentials instead.");
            }

            return registered;
        });
    }

    /// <summary>Adds a certificate to a participant, keeping the others valid (the first half of a rotation).</summary>
    public RegisteredParticipant AddCertificate(ParticipantKey key, X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var described = Describe(certificate, _clock.GetUtcNow());
        return Change(snapshot =>
        {
            var p = Existing(snapshot, key);
            return p.Certificates.Any(c => c.Thumbprint == described.Thumbprint) ? p : p with { Certificates = [.. p.Certificates, described] };
        });
    }

    /// <summary>Removes a certificate (the second half of a rotation, or a revocation).</summary>
    public RegisteredParticipant RemoveCertificate(ParticipantKey key, string thumbprint)
    {
        ArgumentNullException.ThrowIfNull(thumbprint);
        return Change(snapshot =>
        {
            var p = Existing(snapshot, key);
            var kept = p.Certificates.Where(c => !c.Thumbprint.Equals(thumbprint, StringComparison.OrdinalIgnoreCase)).ToList();
            if (kept.Count == p.Certificates.Count)
            {
                throw new RegistryException(RegistryRefusal.NotFound, $"Participant {key} has no certificate with SHA-256 thumbprint {thumbprint}.");
            }

            return p with { Certificates = kept };
        });
    }

    /// <summary>Adds an API key hash to a participant; with <paramref name="replaceOthers"/> the earlier keys stop working.</summary>
    public RegisteredParticipant AddApiKey(ParticipantKey key, string apiKeyHash, bool replaceOthers)
    {
        ArgumentNullException.ThrowIfNull(apiKeyHash);
        var added = new RegisteredApiKey(apiKeyHash.ToUpperInvariant(), _clock.GetUtcNow());
        return Change(snapshot =>
        {
            var p = Existing(snapshot, key);
            return p with { ApiKeys = replaceOthers ? [added] : [.. p.ApiKeys, added] };
        });
    }

    /// <summary>Removes every certificate of a participant except those named (a rotation that retires the old ones).</summary>
    public RegisteredParticipant RetainCertificates(ParticipantKey key, IReadOnlySet<string> thumbprints)
    {
        ArgumentNullException.ThrowIfNull(thumbprints);
        return Change(snapshot =>
        {
            var p = Existing(snapshot, key);
            return p with { Certificates = [.. p.Certificates.Where(c => thumbprints.Contains(c.Thumbprint))] };
        });
    }

    private static RegisteredParticipant Existing(Snapshot snapshot, ParticipantKey key) =>
        snapshot.ByKey.GetValueOrDefault(key)
        ?? throw new RegistryException(RegistryRefusal.NotFound, $"No participant {key} is registered.");

    // Applies one change: computes the new participant, checks the registry-wide rules, writes, then publishes.
    private RegisteredParticipant Change(Func<Snapshot, RegisteredParticipant> change)
    {
        lock (_writer)
        {
            while (true)
            {
                var before = _snapshot;
                var updated = change(before);
                if (updated.Certificates.Count == 0 && updated.ApiKeys.Count == 0)
                {
                    throw new RegistryException(RegistryRefusal.LastCredential,
                        $"Participant {updated.Key} would be left with no certificate and no API key; register a new credential before removing the last one.");
                }

                var all = before.All.Where(p => p.Key != updated.Key).Append(updated).ToList();
                var after = Snapshot.Of(all);
                if (_storage.TryReplace(JsonSerializer.SerializeToUtf8Bytes(new RegistryFile(1, all), s_json), _revision) is { } revision)
                {
                    _snapshot = after;
                    _revision = revision;
                    return updated;
                }

                Refresh(); // another node changed it first: apply this change to its version
                if (_snapshot.ByKey.GetValueOrDefault(updated.Key) is { } stored && Serialized(stored).SequenceEqual(Serialized(updated)))
                {
                    return stored; // or this write landed and only its answer was lost (a shared store between leaders): done
                }
            }
        }
    }

    private static byte[] Serialized(RegisteredParticipant participant) => JsonSerializer.SerializeToUtf8Bytes(participant, s_json);

    private static RegisteredCertificate Describe(X509Certificate2 certificate, DateTimeOffset now) =>
        new(DipSignatureVerifier.Thumbprint(certificate), certificate.Subject, new DateTimeOffset(certificate.NotAfter.ToUniversalTime()), now);

    private static void Validate(Participant p)
    {
        if (p.DipId.Length != 10 || !p.DipId.All(char.IsAsciiDigit))
        {
            throw new RegistryException(RegistryRefusal.Invalid, $"DIP ID '{p.DipId}' is not 10 digits.");
        }

        if (p.Mpid.Length != 4 || !p.Mpid.All(char.IsAsciiLetterUpper))
        {
            throw new RegistryException(RegistryRefusal.Invalid, $"MPID '{p.Mpid}' is not 4 upper-case letters.");
        }

        if (string.IsNullOrWhiteSpace(p.Name))
        {
            throw new RegistryException(RegistryRefusal.Invalid, $"Participant {p.DipId} needs a name.");
        }

        if (!Enum.IsDefined(p.Role) || !Enum.IsDefined(p.Environment))
        {
            throw new RegistryException(RegistryRefusal.Invalid, $"Participant {p.DipId} has an unknown role or environment.");
        }
    }

    private sealed record RegistryFile(int Version, IReadOnlyList<RegisteredParticipant> Participants);

    private sealed class Snapshot
    {
        private Snapshot(IReadOnlyList<RegisteredParticipant> all)
        {
            All = all;
            ByKey = all.ToFrozenDictionary(p => p.Key);
            ThumbprintsByKey = all.ToFrozenDictionary(p => p.Key,
                p => p.Certificates.Select(c => c.Thumbprint).ToFrozenSet(StringComparer.OrdinalIgnoreCase));
            var byThumbprint = new Dictionary<string, RegisteredParticipant>(StringComparer.Ordinal);
            var byApiKey = new Dictionary<string, RegisteredParticipant>(StringComparer.Ordinal);
            foreach (var p in all)
            {
                foreach (var c in p.Certificates) Claim(byThumbprint, c.Thumbprint, p, "certificate");
                foreach (var k in p.ApiKeys) Claim(byApiKey, k.Sha256, p, "API key");
            }

            ByThumbprint = byThumbprint.ToFrozenDictionary(StringComparer.Ordinal);
            ByApiKeyHash = byApiKey.ToFrozenDictionary(StringComparer.Ordinal);
            ByRole = all.GroupBy(p => (p.Participant.Environment, p.Participant.Role))
                .ToFrozenDictionary(g => g.Key, g => (IReadOnlyList<Participant>)[.. g.Select(p => p.Participant).OrderBy(p => p.DipId, StringComparer.Ordinal)]);
        }

        public IReadOnlyList<RegisteredParticipant> All { get; }
        public FrozenDictionary<ParticipantKey, RegisteredParticipant> ByKey { get; }
        public FrozenDictionary<ParticipantKey, FrozenSet<string>> ThumbprintsByKey { get; }
        public FrozenDictionary<string, RegisteredParticipant> ByThumbprint { get; }
        public FrozenDictionary<string, RegisteredParticipant> ByApiKeyHash { get; }
        public FrozenDictionary<(MarketEnvironment, Role), IReadOnlyList<Participant>> ByRole { get; }

        public static Snapshot Of(IReadOnlyList<RegisteredParticipant> all) => new(all);

        // One credential identifies one participant: otherwise a request could not be attributed.
        private static void Claim(Dictionary<string, RegisteredParticipant> index, string credential, RegisteredParticipant p, string kind)
        {
            if (index.TryGetValue(credential, out var holder) && holder.Key != p.Key)
            {
                throw new RegistryException(RegistryRefusal.CredentialInUse,
                    $"That {kind} already identifies participant {holder.Key}; each credential identifies exactly one participant.");
            }

            index[credential] = p;
        }
    }
}
