using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.IO.Hashing;
using System.Text;

namespace Halfhour.Market.Appointments;

/// <summary>
/// Who serves each metering point, and from when: the supplier, data service and metering service appointed to every
/// MPAN and the MPAN's distributor, kept by the backbone from the registration messages it carries (see
/// <see cref="AppointmentMessages"/>) so routing needs no lookup elsewhere. Sized for the whole market (~30 million
/// MPANs): an open-addressing table keyed by the MPAN core as a number, parties as 16-bit indexes into an interned
/// table of DIP IDs, days as 16-bit day numbers; per role it keeps the two latest appointments, so a change that takes
/// effect in the future does not hide the party appointed today. One book per environment. Not thread-safe: the
/// broker applies changes and routes on one thread per book (or partitions the book by MPAN).
/// </summary>
/// <remarks>
/// Snapshot failure semantics: <see cref="WriteSnapshot"/> writes a header, the party table, every entry and a
/// 64-bit checksum of all that precedes it. A snapshot cut short or altered anywhere fails its checksum on
/// <see cref="ReadSnapshot"/>, which then throws and builds nothing: the book is rebuilt by replaying the
/// registration messages. Nothing is ever half-loaded.
/// </remarks>
public sealed class AppointmentBook
{
    // Days are stored as days since 1950-01-01 in 16 bits (to 2129); earlier effective dates mean "since before 1950".
    private static readonly DateOnly Epoch = new(1950, 1, 1);

    // Linear probing stays short up to this load; a table sized for the market is pre-allocated at it.
    private const double MaxLoad = 0.85;

    // Growth factor when no size was given: 1.5 keeps the peak of old plus new arrays under 2.5 times the live table.
    private const double Growth = 1.5;

    private const ushort Nobody = 0;
    private const ushort NoDay = ushort.MaxValue;
    private const uint SnapshotMagic = 0x42414848; // "HHAB"
    private const ushort SnapshotVersion = 1;

    private readonly List<string> _parties = [""];
    private readonly Dictionary<string, ushort> _partyIndex = new(StringComparer.Ordinal);
    private long[] _keys;
    private Entry[] _entries;

    /// <summary>Creates an empty book with room for <paramref name="expectedMeteringPoints"/> without growing.</summary>
    public AppointmentBook(int expectedMeteringPoints = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(expectedMeteringPoints);
        var capacity = Math.Max(16, (int)Math.Min(int.MaxValue - 64, expectedMeteringPoints / MaxLoad + 1));
        _keys = new long[capacity];
        _entries = new Entry[capacity];
    }

    /// <summary>The number of metering points in the book.</summary>
    public int Count { get; private set; }

    /// <summary>The memory the book's tables hold, in bytes (slots of both arrays plus the party table).</summary>
    public long MemoryBytes => _keys.LongLength * (sizeof(long) + Entry.Size) + _parties.Count * 64L;

    /// <summary>Applies one change. Changes are applied in the order the backbone accepted their messages.</summary>
    public void Apply(in AppointmentChange change)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(change.MpanCore, 0);
        ref var entry = ref Upsert(change.MpanCore);
        if (change.DistributorDipId is not null)
        {
            entry.Distributor = Intern(change.DistributorDipId);
        }

        var day = ToDay(change.Day);
        switch (change.Kind)
        {
            case AppointmentChangeKind.Appoint:
                entry.Role(change.Role).Insert(Intern(change.PartyDipId ?? throw new ArgumentException("An appointment names its party.", nameof(change))), day);
                break;
            case AppointmentChangeKind.Deappoint:
                // The party leaves after its last day, unless someone else already holds the role by then.
                var next = day == NoDay - 1 ? day : (ushort)(day + 1);
                ref var history = ref entry.Role(change.Role);
                if (_partyIndex.TryGetValue(change.PartyDipId ?? "", out var party) && history.At(next) == party)
                {
                    history.Insert(Nobody, next);
                }

                break;
            case AppointmentChangeKind.Deregister:
                entry.Supplier.Insert(Nobody, day);
                entry.DataService.Insert(Nobody, day);
                entry.MeteringService.Insert(Nobody, day);
                break;
        }
    }

    /// <summary>Applies the changes of a validated registration message; returns how many it made.</summary>
    public int ApplyMessage(ReadOnlySpan<byte> utf8Message, List<AppointmentChange> scratch)
    {
        ArgumentNullException.ThrowIfNull(scratch);
        scratch.Clear();
        var count = AppointmentMessages.Read(utf8Message, scratch);
        foreach (var change in scratch)
        {
            Apply(change);
        }

        return count;
    }

    /// <summary>Who serves the metering point on <paramref name="day"/>; false when the book has never heard of it.</summary>
    public bool TryFind(long mpanCore, DateOnly day, out MeteringPointAppointments appointments)
    {
        var slot = Find(mpanCore);
        if (slot < 0)
        {
            appointments = default;
            return false;
        }

        ref var entry = ref _entries[slot];
        var at = ToDay(day);
        appointments = new MeteringPointAppointments(
            entry.Distributor == Nobody ? null : _parties[entry.Distributor],
            Describe(entry.Supplier, at), Describe(entry.DataService, at), Describe(entry.MeteringService, at));
        return true;
    }

    /// <summary>The DIP ID holding <paramref name="role"/> for the metering point on <paramref name="day"/>, or null; allocates nothing.</summary>
    public string? Appointed(long mpanCore, AppointedRole role, DateOnly day)
    {
        var slot = Find(mpanCore);
        if (slot < 0)
        {
            return null;
        }

        var party = _entries[slot].Role(role).At(ToDay(day));
        return party == Nobody ? null : _parties[party];
    }

    /// <summary>The distributor of the metering point, or null; allocates nothing.</summary>
    public string? Distributor(long mpanCore)
    {
        var slot = Find(mpanCore);
        return slot < 0 || _entries[slot].Distributor == Nobody ? null : _parties[_entries[slot].Distributor];
    }

    /// <summary>Writes the whole book to <paramref name="stream"/> in a compact, checksummed binary form.</summary>
    public void WriteSnapshot(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var output = new ChecksummedWriter(stream);
        output.UInt32(SnapshotMagic);
        output.UInt16(SnapshotVersion);
        output.UInt32((uint)_parties.Count);
        foreach (var party in _parties)
        {
            var bytes = Encoding.UTF8.GetBytes(party);
            output.UInt16((ushort)bytes.Length);
            output.Bytes(bytes);
        }

        output.UInt32((uint)Count);
        for (var slot = 0; slot < _keys.Length; slot++)
        {
            if (_keys[slot] != 0)
            {
                output.Int64(_keys[slot]);
                _entries[slot].Write(output);
            }
        }

        output.WriteChecksum();
    }

    /// <summary>Reads a book written by <see cref="WriteSnapshot"/>; throws <see cref="InvalidDataException"/> when it is damaged.</summary>
    public static AppointmentBook ReadSnapshot(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var input = new ChecksummedReader(stream);
        if (input.UInt32() != SnapshotMagic || input.UInt16() != SnapshotVersion)
        {
            throw new InvalidDataException("This is not an appointment book snapshot of a version this build reads; rebuild the book by replay.");
        }

        var parties = input.UInt32();
        if (parties is 0 or > ushort.MaxValue)
        {
            throw new InvalidDataException("The snapshot's party table is damaged; rebuild the book by replay.");
        }

        var names = new List<string>((int)parties);
        for (var i = 0; i < parties; i++)
        {
            var length = input.UInt16();
            names.Add(Encoding.UTF8.GetString(input.Bytes(length)));
        }

        var count = (int)input.UInt32();
        var book = new AppointmentBook(count);
        for (var i = 1; i < names.Count; i++)
        {
            book.Intern(names[i]);
        }

        for (var i = 0; i < count; i++)
        {
            var key = input.Int64();
            if (key <= 0)
            {
                throw new InvalidDataException("The snapshot holds an impossible MPAN core; rebuild the book by replay.");
            }

            book.Upsert(key) = Entry.Read(input, names.Count);
        }

        input.VerifyChecksum();
        return book;
    }

    private static ushort ToDay(DateOnly day)
    {
        var days = day.DayNumber - Epoch.DayNumber;
        return (ushort)Math.Clamp(days, 0, NoDay - 1);
    }

    private Appointment Describe(in RoleHistory history, ushort day)
    {
        var (party, from) = history.Holder(day);
        return from == NoDay ? default : new Appointment(party == Nobody ? null : _parties[party], Epoch.AddDays(from));
    }

    private ushort Intern(string dipId)
    {
        if (!_partyIndex.TryGetValue(dipId, out var index))
        {
            if (_parties.Count > ushort.MaxValue - 1)
            {
                throw new InvalidOperationException("An appointment book holds at most 65,534 parties; the market has about 400.");
            }

            index = (ushort)_parties.Count;
            _parties.Add(dipId);
            _partyIndex.Add(dipId, index);
        }

        return index;
    }

    private int Find(long key)
    {
        var slot = Home(key, _keys.Length);
        while (true)
        {
            var found = _keys[slot];
            if (found == key)
            {
                return slot;
            }

            if (found == 0)
            {
                return -1;
            }

            slot = slot + 1 == _keys.Length ? 0 : slot + 1;
        }
    }

    private ref Entry Upsert(long key)
    {
        var slot = Find(key);
        if (slot >= 0)
        {
            return ref _entries[slot];
        }

        if (Count + 1 > _keys.Length * MaxLoad)
        {
            Grow();
        }

        slot = Home(key, _keys.Length);
        while (_keys[slot] != 0)
        {
            slot = slot + 1 == _keys.Length ? 0 : slot + 1;
        }

        _keys[slot] = key;
        _entries[slot] = Entry.Empty;
        Count++;
        return ref _entries[slot];
    }

    private void Grow()
    {
        var (keys, entries) = (_keys, _entries);
        var capacity = (int)Math.Min(int.MaxValue - 64, keys.Length * Growth + 1);
        _keys = new long[capacity];
        _entries = new Entry[capacity];
        for (var i = 0; i < keys.Length; i++)
        {
            if (keys[i] != 0)
            {
                var slot = Home(keys[i], capacity);
                while (_keys[slot] != 0)
                {
                    slot = slot + 1 == capacity ? 0 : slot + 1;
                }

                _keys[slot] = keys[i];
                _entries[slot] = entries[i];
            }
        }
    }

    // The key's home slot: a well-mixed hash mapped onto [0, capacity) by multiplication (no power-of-two capacity needed).
    private static int Home(long key, int capacity)
    {
        var hash = (ulong)key * 0x9E3779B97F4A7C15UL;
        hash ^= hash >> 29;
        return (int)Math.BigMul(hash, (ulong)capacity, out _);
    }

    /// <summary>The two latest appointments of one role: (party, first day) each; a day of <see cref="NoDay"/> is an empty place.</summary>
    private struct RoleHistory
    {
        public ushort EarlierParty;
        public ushort EarlierFrom;
        public ushort LaterParty;
        public ushort LaterFrom;

        public static RoleHistory Empty => new() { EarlierFrom = NoDay, LaterFrom = NoDay };

        public readonly (ushort Party, ushort From) Holder(ushort day) =>
            LaterFrom != NoDay && LaterFrom <= day ? (LaterParty, LaterFrom)
            : EarlierFrom != NoDay && EarlierFrom <= day ? (EarlierParty, EarlierFrom)
            : (Nobody, NoDay);

        public readonly ushort At(ushort day) => Holder(day).Party;

        // Keeps the two latest by first day; a change older than both is history the book no longer needs.
        public void Insert(ushort party, ushort from)
        {
            if (LaterFrom == NoDay || from == LaterFrom)
            {
                (LaterParty, LaterFrom) = (party, from);
            }
            else if (from > LaterFrom)
            {
                (EarlierParty, EarlierFrom) = (LaterParty, LaterFrom);
                (LaterParty, LaterFrom) = (party, from);
            }
            else if (EarlierFrom == NoDay || from >= EarlierFrom)
            {
                (EarlierParty, EarlierFrom) = (party, from);
            }
        }

        public readonly void Write(ChecksummedWriter output)
        {
            output.UInt16(EarlierParty);
            output.UInt16(EarlierFrom);
            output.UInt16(LaterParty);
            output.UInt16(LaterFrom);
        }

        public static RoleHistory Read(ChecksummedReader input, int parties)
        {
            var history = new RoleHistory { EarlierParty = input.UInt16(), EarlierFrom = input.UInt16(), LaterParty = input.UInt16(), LaterFrom = input.UInt16() };
            return history.EarlierParty < parties && history.LaterParty < parties ? history
                : throw new InvalidDataException("The snapshot names a party it does not hold; rebuild the book by replay.");
        }
    }

    /// <summary>One metering point: its distributor and the histories of its three roles (26 bytes).</summary>
    private struct Entry
    {
        public const int Size = 26;

        public ushort Distributor;
        public RoleHistory Supplier;
        public RoleHistory DataService;
        public RoleHistory MeteringService;

        public static Entry Empty => new() { Supplier = RoleHistory.Empty, DataService = RoleHistory.Empty, MeteringService = RoleHistory.Empty };

        [UnscopedRef]
        public ref RoleHistory Role(AppointedRole role)
        {
            switch (role)
            {
                case AppointedRole.Supplier:
                    return ref Supplier;
                case AppointedRole.DataService:
                    return ref DataService;
                default:
                    return ref MeteringService;
            }
        }

        public readonly void Write(ChecksummedWriter output)
        {
            output.UInt16(Distributor);
            Supplier.Write(output);
            DataService.Write(output);
            MeteringService.Write(output);
        }

        public static Entry Read(ChecksummedReader input, int parties)
        {
            var distributor = input.UInt16();
            if (distributor >= parties)
            {
                throw new InvalidDataException("The snapshot names a distributor it does not hold; rebuild the book by replay.");
            }

            return new Entry
            {
                Distributor = distributor,
                Supplier = RoleHistory.Read(input, parties),
                DataService = RoleHistory.Read(input, parties),
                MeteringService = RoleHistory.Read(input, parties),
            };
        }
    }

    /// <summary>Writes little-endian values through a buffer, hashing every byte, and ends with the hash.</summary>
    private sealed class ChecksummedWriter(Stream stream) : IDisposable
    {
        // Large enough that a 30-million-entry snapshot is a few thousand writes, small enough to stay out of the large object heap.
        private readonly byte[] _buffer = new byte[64 * 1024];
        private readonly XxHash64 _hash = new();
        private int _used;

        public void UInt16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Take(2), value);

        public void UInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), value);

        public void Int64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), value);

        public void Bytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));

        public void WriteChecksum()
        {
            Flush();
            stream.Write(_hash.GetCurrentHash());
            stream.Flush();
        }

        public void Dispose()
        {
        }

        private Span<byte> Take(int count)
        {
            if (_used + count > _buffer.Length)
            {
                Flush();
            }

            var span = _buffer.AsSpan(_used, count);
            _used += count;
            return span;
        }

        private void Flush()
        {
            _hash.Append(_buffer.AsSpan(0, _used));
            stream.Write(_buffer, 0, _used);
            _used = 0;
        }
    }

    /// <summary>Reads what <see cref="ChecksummedWriter"/> wrote through a buffer, hashing what it consumes; a short stream is damage.</summary>
    private sealed class ChecksummedReader(Stream stream)
    {
        // As the writer's buffer: few reads for a market-sized snapshot, and out of the large object heap.
        private readonly byte[] _buffer = new byte[64 * 1024];
        private readonly XxHash64 _hash = new();
        private int _position;
        private int _filled;

        public ushort UInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Read(2));

        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Read(4));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Read(8));

        public ReadOnlySpan<byte> Bytes(int count) => Read(count);

        public void VerifyChecksum()
        {
            _hash.Append(_buffer.AsSpan(0, _position));
            var expected = _hash.GetCurrentHash();
            _buffer.AsSpan(_position, _filled - _position).CopyTo(_buffer);
            (_filled, _position) = (_filled - _position, 0);
            Fill(expected.Length);
            if (!expected.AsSpan().SequenceEqual(_buffer.AsSpan(0, expected.Length)))
            {
                throw new InvalidDataException("The appointment book snapshot fails its checksum; rebuild the book by replay.");
            }
        }

        private ReadOnlySpan<byte> Read(int count)
        {
            if (_position + count > _filled)
            {
                // Hash what has been consumed, keep the unread tail, and read on.
                _hash.Append(_buffer.AsSpan(0, _position));
                _buffer.AsSpan(_position, _filled - _position).CopyTo(_buffer);
                (_filled, _position) = (_filled - _position, 0);
                Fill(count);
            }

            var span = _buffer.AsSpan(_position, count);
            _position += count;
            return span;
        }

        private void Fill(int atLeast)
        {
            while (_filled < atLeast)
            {
                var read = stream.Read(_buffer, _filled, _buffer.Length - _filled);
                if (read == 0)
                {
                    throw new InvalidDataException("The appointment book snapshot ends early; rebuild the book by replay.");
                }

                _filled += read;
            }
        }
    }
}
