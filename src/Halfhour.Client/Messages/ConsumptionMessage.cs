using System.Globalization;
using System.Text.Json.Nodes;

namespace Halfhour.Client.Messages;

/// <summary>
/// IF-021 Provide Settlement Period Consumption: one metering point's consumption for one UTC settlement day in 48
/// half-hour periods, from the data service appointed to it. The backbone routes it to the supplier appointed to the
/// MPAN, its LDSO, load shaping and market-wide data besides the primary recipients.
/// </summary>
public sealed record ConsumptionMessage : DipMessageBuilder
{
    /// <summary>Half-hour settlement periods in a UTC settlement day.</summary>
    public const int PeriodsPerDay = 48;

    /// <summary>The metering point measured.</summary>
    public required MeteringPoint Point { get; init; }

    /// <summary>The UTC settlement day.</summary>
    public required DateOnly SettlementDay { get; init; }

    /// <summary>The 48 period quantities in kWh (kVArh for reactive), in period order; written with three decimals.</summary>
    public required IReadOnlyList<decimal> Periods { get; init; }

    /// <summary>The quality flag of every period: <c>A</c> actual, <c>E</c> estimated, …</summary>
    public string Quality { get; init; } = "A";

    /// <summary>The measurement quantity: <c>AI</c> active import, <c>AE</c> active export, <c>RI</c>/<c>RE</c> reactive.</summary>
    public string MeasurementQuantity { get; init; } = "AI";

    /// <summary>The connection type indicator of B067 (<c>W</c> whole current, <c>L</c> LV CT, …).</summary>
    public string ConnectionType { get; init; } = "W";

    /// <summary>Since when the connection type holds.</summary>
    public DateOnly ConnectionTypeEffectiveFrom { get; init; } = new(2019, 4, 1);

    /// <summary>The data service issuing the data; null: the sender.</summary>
    public string? IssuingDataServiceDipId { get; init; }

    /// <inheritdoc />
    public override string InterfaceId => "IF-021";

    /// <inheritdoc />
    public override string EventCode => MeasurementQuantity is "RI" or "RE" ? "ReactivePower" : "ActivePower";

    /// <inheritdoc />
    public override MeteringPoint? MeteringPoint => Point;

    /// <inheritdoc />
    protected override JsonObject CustomBlock(DipSender sender)
    {
        if (Periods.Count != PeriodsPerDay)
        {
            throw new ArgumentException($"A UTC settlement day has {PeriodsPerDay} half-hour periods; {Periods.Count} quantities were given for {SettlementDay:yyyy-MM-dd}.");
        }

        var start = new DateTimeOffset(SettlementDay.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        var periods = new JsonArray();
        for (var i = 0; i < PeriodsPerDay; i++)
        {
            periods.Add(new JsonObject
            {
                ["sp"] = DipTime.Format(start.AddMinutes(30 * i)),
                ["v"] = Periods[i].ToString("0.000", CultureInfo.InvariantCulture),
                ["q"] = Quality,
                ["e"] = null,
                ["arc"] = null,
            });
        }

        return new JsonObject
        {
            ["B044"] = new JsonObject { ["issuingDataServiceDIPID"] = IssuingDataServiceDipId ?? sender.DipId },
            ["B067"] = new JsonObject { ["connectionTypeIndicator"] = ConnectionType, ["connectionTypeEffectiveFromDate"] = DipTime.Format(ConnectionTypeEffectiveFrom) },
            ["B900"] = new JsonObject
            {
                ["MQID"] = new JsonObject { ["measurementQuantityID"] = MeasurementQuantity },
                ["settlementDayConsumptionPeriods"] = new JsonArray(new JsonObject
                {
                    ["settlementDay"] = new JsonObject { ["settlementDayDate"] = DipTime.Format(SettlementDay), ["periodDuration"] = 30 },
                    ["consumptionPeriods"] = periods,
                }),
            },
        };
    }
}
