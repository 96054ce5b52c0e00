using System.Text.Json.Nodes;

namespace Halfhour.Client.Messages;

/// <summary>
/// The standing facts of a metering point that registration and appointment messages carry (B022 address, B023
/// connection, B024 DUoS tariff, B025 energisation, B026 market segment, B028/B004 domestic premise). The defaults
/// describe an ordinary energised, whole-current, domestic import point, so a test needs to set only what it cares about.
/// </summary>
public sealed record MeteringPointDetails
{
    /// <summary>Since when every fact holds unless its own date is set.</summary>
    public DateOnly EffectiveFrom { get; init; } = new(2019, 4, 1);

    /// <summary>The postcode of the metering point.</summary>
    public string? Postcode { get; init; } = "SW1A 1AA";

    /// <summary>Up to nine address lines.</summary>
    public IReadOnlyList<string> AddressLines { get; init; } = ["1 Example Street", "London"];

    /// <summary>Connection type indicator: <c>W</c> whole current, <c>L</c> LV CT, <c>H</c> HV, <c>E</c> EHV, <c>U</c> unmetered.</summary>
    public string ConnectionType { get; init; } = "W";

    /// <summary>Energy direction: <c>I</c> import, <c>E</c> export.</summary>
    public string EnergyDirection { get; init; } = "I";

    /// <summary>Whether the point is metered.</summary>
    public bool Metered { get; init; } = true;

    /// <summary>The LDSO's DUoS tariff ID.</summary>
    public string DuosTariffId { get; init; } = "001";

    /// <summary>Energisation status: <c>E</c> energised, <c>D</c> de-energised, <c>U</c> unknown.</summary>
    public string EnergisationStatus { get; init; } = "E";

    /// <summary>Market segment: <c>S</c> smart, <c>A</c> advanced, <c>U</c> unmetered.</summary>
    public string MarketSegment { get; init; } = "S";

    /// <summary>Whether the premises are domestic.</summary>
    public bool Domestic { get; init; } = true;

    /// <summary>Adds B022 to B026 to a custom block.</summary>
    internal void AddTo(JsonObject block)
    {
        var from = DipTime.Format(EffectiveFrom);
        if (AddressLines.Count > 9) throw new ArgumentException($"B022 holds at most nine address lines; {AddressLines.Count} were given.");
        var address = new JsonObject { ["meteringPointPostcode"] = Postcode };
        for (var i = 0; i < 9; i++) address[$"addressLine{i + 1}"] = i < AddressLines.Count ? AddressLines[i] : null;
        block["B022"] = address;
        block["B023"] = new JsonObject
        {
            ["connectionTypeIndicator"] = ConnectionType, ["connectionTypeEffectiveFromDate"] = from, ["energyDirection"] = EnergyDirection, ["meteredIndicator"] = Metered,
        };
        block["B024"] = new JsonObject { ["DUOSTariffID"] = DuosTariffId, ["DUOSTariffIDEffectiveFromDate"] = from };
        block["B025"] = new JsonObject { ["energisationStatus"] = EnergisationStatus, ["energisationStatusEffectiveFromDate"] = from };
        block["B026"] = new JsonObject { ["marketSegmentIndicator"] = MarketSegment, ["marketSegmentIndicatorEffectiveFromDate"] = from };
    }

    /// <summary>The domestic premise indicator block (B028 in appointments, B004 in registrations share its fields).</summary>
    internal JsonObject DomesticBlock() =>
        new() { ["domesticPremiseIndicator"] = Domestic, ["domesticPremiseIndicatorEffectiveFromDate"] = DipTime.Format(EffectiveFrom) };
}
