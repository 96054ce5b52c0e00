using System.Buffers;
using Halfhour.Market.Participants;
using Halfhour.Market.Rules;

namespace Halfhour.Market.Consumption;

/// <summary>What a <see cref="ConsumptionMessageBuilder"/> generates.</summary>
public sealed record ConsumptionMessageOptions
{
    /// <summary>The seed: the same seed and message number always give the same bytes.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>The environment tag of the messages.</summary>
    public MarketEnvironment Environment { get; init; } = MarketEnvironment.PRD;

    /// <summary>True for <c>[ReactivePower]</c> (RI), false for <c>[ActivePower]</c> (AI).</summary>
    public bool Reactive { get; init; }

    /// <summary>The first UTC settlement day of every message.</summary>
    public DateOnly FirstSettlementDay { get; init; } = new(2025, 1, 15);

    /// <summary>Settlement days per message (1 … 200); the daily flow sends one.</summary>
    public int SettlementDays { get; init; } = 1;

    /// <summary>How many distinct metering points the messages cycle through (the market has about 30 million).</summary>
    public long MeteringPoints { get; init; } = 30_000_000;
}

/// <summary>
/// Generates realistic IF-021 messages as UTF-8 bytes, fast enough to feed benchmarks and the market simulator:
/// valid MPAN cores with their check digits, the data service and supplier the <see cref="ConsumptionRoster"/>
/// appoints to each MPAN, and settlement days of 48 periods following a domestic daily load profile with noise,
/// occasional estimated runs and consumption amendments. Message <c>n</c> is a pure function of the seed and <c>n</c>.
/// </summary>
public sealed class ConsumptionMessageBuilder
{
    // A domestic half-hourly load shape, relative to the day's mean (night trough, morning and evening peaks).
    private static readonly double[] LoadShape =
    [
        0.55, 0.50, 0.45, 0.42, 0.40, 0.40, 0.40, 0.40, 0.42, 0.45, 0.50, 0.60,
        0.80, 1.00, 1.20, 1.30, 1.20, 1.00,
        0.85, 0.80, 0.80, 0.80, 0.85, 0.90, 0.90, 0.85, 0.80, 0.80, 0.85, 0.90, 1.00, 1.10,
        1.30, 1.60, 1.90, 2.00, 1.90, 1.80, 1.60, 1.50, 1.40, 1.30,
        1.20, 1.10, 1.00, 0.90, 0.75, 0.65,
    ];

    // The upper bound of one period written out ({"sp":…,"v":"-123456789.000","q":"EA13","e":"10","arc":"X"}).
    private const int MaxPeriodBytes = 96;

    // The upper bound of everything but the periods (both blocks with the longest values the builder writes).
    private const int MaxFrameBytes = 1536;

    private readonly ConsumptionMessageOptions _options;
    private readonly byte[] _environmentTag;
    private readonly double _meanShape;

    /// <summary>Creates a builder; <paramref name="roster"/> defaults to a market-sized roster.</summary>
    public ConsumptionMessageBuilder(ConsumptionMessageOptions? options = null, ConsumptionRoster? roster = null)
    {
        _options = options ?? new ConsumptionMessageOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.SettlementDays, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(_options.SettlementDays, ConsumptionSchema.MaxSettlementDays);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MeteringPoints, 1);
        Roster = roster ?? new ConsumptionRoster();
        _environmentTag = System.Text.Encoding.ASCII.GetBytes(_options.Environment.ToString());
        var sum = 0.0;
        foreach (var factor in LoadShape)
        {
            sum += factor;
        }

        _meanShape = sum / LoadShape.Length;
    }

    /// <summary>The participants the messages name.</summary>
    public ConsumptionRoster Roster { get; }

    /// <summary>The largest message this builder writes, in bytes: the buffer size that always suffices.</summary>
    public int MaxMessageBytes => MaxFrameBytes + _options.SettlementDays * (ConsumptionSchema.PeriodsPerDay * MaxPeriodBytes + 160);

    /// <summary>The MPAN core of message <paramref name="number"/>: a valid 13-digit core with its check digit.</summary>
    public long MpanOf(long number)
    {
        var point = (long)(ConsumptionRoster.Mix(_options.Seed ^ (ulong)(number % _options.MeteringPoints)) % 10_000_000_000UL);
        var distributor = ConsumptionRoster.FirstDistributorId + (int)(ConsumptionRoster.Mix((ulong)point) % (ulong)ConsumptionRoster.DistributorCount);
        var firstTwelve = distributor * 10_000_000_000L + point;
        Span<char> digits = stackalloc char[12];
        firstTwelve.TryFormat(digits, out _, "D12", System.Globalization.CultureInfo.InvariantCulture);
        return firstTwelve * 10 + MpanCore.CheckDigit(digits);
    }

    /// <summary>Builds message <paramref name="number"/> as a new array.</summary>
    public byte[] Build(long number)
    {
        var buffer = new ArrayBufferWriter<byte>(MaxMessageBytes);
        Write(number, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes message <paramref name="number"/> to <paramref name="output"/>; returns its length.</summary>
    public int Write(long number, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var written = Write(number, output.GetSpan(MaxMessageBytes));
        output.Advance(written);
        return written;
    }

    /// <summary>Writes message <paramref name="number"/> into <paramref name="destination"/> (at least <see cref="MaxMessageBytes"/> long); returns its length.</summary>
    public int Write(long number, Span<byte> destination)
    {
        var mpan = MpanOf(number);
        var random = ConsumptionRoster.Mix(_options.Seed * 0x100000001B3UL ^ (ulong)number);
        var sender = Roster.DataServiceOf(mpan);
        var day = _options.FirstSettlementDay;
        var w = new Utf8Text(destination);

        w.Raw("{\"payload\":{\"CommonBlock\":{\"S0\":{\"interfaceID\":\"IF-021\",\"schemaVersion\":\"011\",\"eventCode\":\""u8);
        w.Raw(_options.Reactive ? "[ReactivePower]"u8 : "[ActivePower]"u8);
        w.Raw("\"},\"S1\":{\"environmentTag\":\""u8);
        w.Raw(_environmentTag);
        w.Raw("\",\"subText\":null,\"senderUniqueReference\":\"S-IF-021-"u8);
        w.Ascii(sender);
        w.Raw("-SDS-"u8);
        w.Date(day, separators: false);
        w.Raw("-"u8);
        w.Number(number);
        w.Raw("\",\"senderTimestamp\":\""u8);
        w.Date(day.AddDays(_options.SettlementDays), separators: true);
        w.Raw("T0"u8);
        w.Digit((int)(random % 6));
        w.Raw(":"u8);
        w.TwoDigits((int)((random >> 8) % 60));
        w.Raw(":"u8);
        w.TwoDigits((int)((random >> 16) % 60));
        w.Raw("+00:00\",\"senderDIPID\":\""u8);
        w.Ascii(sender);
        w.Raw("\",\"senderRoleID\":\"SDS\",\"senderCorrelationID\":null,\"DIPConnectionProviderID\":null},\"A0\":{\"primaryRecipients\":[\""u8);
        w.Ascii(Roster.SupplierOf(mpan));
        w.Raw("\"],\"secondaryRecipients\":[],\"always\":[]},\"M0\":{\"MPANCore\":\""u8);
        w.Number(mpan);
        w.Raw("\",\"distributorDIPID\":\""u8);
        w.Ascii(Roster.DistributorOf(mpan));
        w.Raw("\",\"GSPGroupID\":\""u8);
        w.Ascii(ConsumptionRoster.GspGroupOf(mpan));
        w.Raw("\"}},\"CustomBlock\":{\"B044\":{\"issuingDataServiceDIPID\":\""u8);
        w.Ascii(sender);
        w.Raw("\"},\"B067\":{\"connectionTypeIndicator\":\"W\",\"connectionTypeEffectiveFromDate\":\"2019-04-01T00:00:00+00:00\"},\"B900\":{\"MQID\":{\"measurementQuantityID\":\""u8);
        w.Raw(_options.Reactive ? "RI"u8 : "AI"u8);
        w.Raw("\"},\"settlementDayConsumptionPeriods\":["u8);

        // A household's yearly consumption of 1,500 to 6,000 kWh, spread over the 17,520 half hours of a year.
        var meanKwh = (1500 + (double)(ConsumptionRoster.Mix((ulong)mpan) % 4500)) / 17_520 / _meanShape * (_options.Reactive ? 0.2 : 1.0);
        for (var d = 0; d < _options.SettlementDays; d++)
        {
            if (d > 0)
            {
                w.Raw(","u8);
            }

            WriteDay(ref w, day.AddDays(d), meanKwh, ConsumptionRoster.Mix(random + (ulong)d));
        }

        w.Raw("]}}}}"u8);
        return w.Length;
    }

    private static void WriteDay(ref Utf8Text w, DateOnly day, double meanKwh, ulong random)
    {
        w.Raw("{\"settlementDay\":{\"settlementDayDate\":\""u8);
        w.Date(day, separators: true);
        w.Raw("T00:00:00+00:00\",\"periodDuration\":30},\"consumptionPeriods\":["u8);

        // Most days are all actual reads; some have a run of estimated periods (missing data), a few an amendment.
        var kind = random % 100;
        var runStart = (int)((random >> 8) % 48);
        var runEnd = runStart + 1 + (int)((random >> 16) % 12);
        var noise = random;
        for (var p = 0; p < ConsumptionSchema.PeriodsPerDay; p++)
        {
            noise = noise * 6364136223846793005UL + 1442695040888963407UL;
            var factor = 0.7 + (noise >> 40) / (double)(1UL << 24) * 0.6;
            var milliKwh = (long)(meanKwh * LoadShape[p] * factor * 1000);
            w.Raw(p == 0 ? "{\"sp\":\""u8 : ",{\"sp\":\""u8);
            w.Date(day, separators: true);
            w.Raw("T"u8);
            w.TwoDigits(p / 2);
            w.Raw(p % 2 == 0 ? ":00:00+00:00\",\"v\":\""u8 : ":30:00+00:00\",\"v\":\""u8);
            w.Number(milliKwh / 1000);
            w.Raw("."u8);
            w.Digit((int)(milliKwh / 100 % 10));
            w.Digit((int)(milliKwh / 10 % 10));
            w.Digit((int)(milliKwh % 10));
            var inRun = p >= runStart && p < runEnd;
            if (kind < 92 || !inRun)
            {
                w.Raw("\",\"q\":\"A\",\"e\":null,\"arc\":null}"u8);
            }
            else if (kind < 98)
            {
                w.Raw("\",\"q\":\"E1\",\"e\":\"2\",\"arc\":null}"u8);
            }
            else
            {
                w.Raw("\",\"q\":\"E2\",\"e\":\"9\",\"arc\":\"M\"}"u8);
            }
        }

        w.Raw("]}"u8);
    }

    /// <summary>A cursor that writes ASCII into a span; the caller sized the span for the whole message.</summary>
    private ref struct Utf8Text(Span<byte> destination)
    {
        private readonly Span<byte> _destination = destination;

        public int Length { get; private set; }

        public void Raw(scoped ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_destination[Length..]);
            Length += bytes.Length;
        }

        public void Ascii(string text)
        {
            foreach (var c in text)
            {
                _destination[Length++] = (byte)c;
            }
        }

        public void Digit(int value) => _destination[Length++] = (byte)('0' + value);

        public void TwoDigits(int value)
        {
            Digit(value / 10);
            Digit(value % 10);
        }

        public void Number(long value)
        {
            value.TryFormat(_destination[Length..], out var written, default, System.Globalization.CultureInfo.InvariantCulture);
            Length += written;
        }

        public void Date(DateOnly date, bool separators)
        {
            Digit(date.Year / 1000);
            Digit(date.Year / 100 % 10);
            TwoDigits(date.Year % 100);
            if (separators)
            {
                Raw("-"u8);
            }

            TwoDigits(date.Month);
            if (separators)
            {
                Raw("-"u8);
            }

            TwoDigits(date.Day);
        }
    }
}
