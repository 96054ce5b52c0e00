namespace Halfhour.Market.Participants;

/// <summary>A market role. A participant holds exactly one role per DIP ID; the names are the DIP's role codes.</summary>
public enum Role : byte
{
    /// <summary>Supplier.</summary>
    SUP = 1,
    /// <summary>Licensed distribution system operator.</summary>
    LDSO,
    /// <summary>Registration service.</summary>
    REGS,
    /// <summary>Smart data service.</summary>
    SDS,
    /// <summary>Advanced data service.</summary>
    ADS,
    /// <summary>Unmetered supplies data service.</summary>
    UMSDS,
    /// <summary>Metering service (smart).</summary>
    MSS,
    /// <summary>Metering service (advanced).</summary>
    MSA,
    /// <summary>Unmetered supplies operator.</summary>
    UMSO,
    /// <summary>Load shaping service.</summary>
    LSS,
    /// <summary>Market-wide data service.</summary>
    MDS,
    /// <summary>Industry standing data.</summary>
    ISD,
    /// <summary>Electricity enquiry service.</summary>
    EES,
    /// <summary>Meter data retrieval.</summary>
    MDR,
    /// <summary>Data communications company.</summary>
    DCC,
    /// <summary>Electricity central online enquiry service.</summary>
    ECS,
    /// <summary>Volume allocation service (central settlement).</summary>
    VAS,
    /// <summary>The Data Integration Platform itself: receives replay requests (IF-015) and sends replays (IF-016).</summary>
    DIP,
}
