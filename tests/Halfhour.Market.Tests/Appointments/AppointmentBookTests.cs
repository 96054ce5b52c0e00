using System.Text;
using System.Text.Json.Nodes;
using Halfhour.Market.Appointments;

namespace Halfhour.Market.Tests.Appointments;

public class AppointmentBookTests
{
    private const long Mpan = 1200000000009;
    private const string Distributor = "3000000003";
    private static readonly DateOnly Jan1 = new(2025, 1, 1);

    internal static byte[] Message(string interfaceId, string eventCode, long mpan, JsonObject custom) => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["payload"] = new JsonObject
        {
            ["CommonBlock"] = new JsonObject
            {
                ["S0"] = new JsonObject { ["interfaceID"] = interfaceId, ["schemaVersion"] = "011", ["eventCode"] = eventCode },
                ["M0"] = new JsonObject { ["MPANCore"] = mpan.ToString(System.Globalization.CultureInfo.InvariantCulture), ["distributorDIPID"] = Distributor, ["GSPGroupID"] = "_C" },
            },
            ["CustomBlock"] = custom,
        },
    }.ToJsonString());

    internal static byte[] Registration(long mpan, string supplier, string from, bool changeOfSupplier = false) => Message(
        "IF-001", changeOfSupplier ? "[ChangeOfSupplier]" : "[InitialRegistration]", mpan, new JsonObject
        {
            ["B002"] = new JsonObject { ["incomingSupplierDIPID"] = supplier, ["incomingSupplierMPID"] = "SUPA", ["supplierEffectiveFromDate"] = from + "T00:00:00+00:00" },
        });

    internal static byte[] DataServiceActive(long mpan, string dataService, string from, string? meteringService = null) => Message(
        "IF-036", "[DSAppActive]", mpan, new JsonObject
        {
            ["B015"] = new JsonObject { ["incomingDataServiceDIPID"] = dataService, ["incomingDataServiceEffectiveFromDate"] = from + "T00:00:00+00:00", ["appointmentScenario"] = "COS" },
            ["B016"] = meteringService is null ? null : new JsonObject { ["incomingMeteringServiceDIPID"] = meteringService, ["incomingMeteringServiceEffectiveFromDate"] = from + "T00:00:00+00:00" },
        });

    private static AppointmentBook BookOf(params byte[][] messages)
    {
        var book = new AppointmentBook();
        var scratch = new List<AppointmentChange>();
        foreach (var message in messages)
        {
            book.ApplyMessage(message, scratch);
        }

        return book;
    }

    [Fact]
    public void An_initial_registration_appoints_the_supplier_from_its_effective_date_and_records_the_distributor()
    {
        var book = BookOf(Registration(Mpan, "1000000001", "2025-01-01"));
        Assert.True(book.TryFind(Mpan, Jan1, out var now));
        Assert.Equal(new Appointment("1000000001", Jan1), now.Supplier);
        Assert.Equal(Distributor, now.DistributorDipId);
        Assert.False(now.DataService.IsHeld);
        Assert.Null(book.Appointed(Mpan, AppointedRole.Supplier, Jan1.AddDays(-1)));
    }

    [Fact]
    public void A_change_of_supplier_in_the_future_leaves_todays_supplier_in_place_until_then()
    {
        var book = BookOf(Registration(Mpan, "1000000001", "2025-01-01"), Registration(Mpan, "1000000002", "2025-02-01", changeOfSupplier: true));
        Assert.Equal("1000000001", book.Appointed(Mpan, AppointedRole.Supplier, new DateOnly(2025, 1, 31)));
        Assert.Equal("1000000002", book.Appointed(Mpan, AppointedRole.Supplier, new DateOnly(2025, 2, 1)));
    }

    [Fact]
    public void A_data_service_appointment_notice_appoints_the_data_service_and_the_metering_service_it_names()
    {
        var book = BookOf(DataServiceActive(Mpan, "2000000001", "2025-01-01", meteringService: "6000000001"));
        Assert.Equal("2000000001", book.Appointed(Mpan, AppointedRole.DataService, Jan1));
        Assert.Equal("6000000001", book.Appointed(Mpan, AppointedRole.MeteringService, Jan1));
    }

    [Fact]
    public void A_de_appointment_ends_the_party_after_its_last_day_and_names_the_incoming_one()
    {
        var deApp = AppointmentBookTests.Message("IF-037", "[DSDeApp]", Mpan, new JsonObject
        {
            ["B009"] = new JsonObject { ["deAppointedDataServiceDIPID"] = "2000000001", ["dataServiceEffectiveFromDate"] = "2025-01-01T00:00:00+00:00", ["dataServiceEffectiveToDate"] = "2025-03-31T00:00:00+00:00", ["deAppointmentReasonCode"] = "CSERV" },
        });
        var book = BookOf(DataServiceActive(Mpan, "2000000001", "2025-01-01"), deApp);
        Assert.Equal("2000000001", book.Appointed(Mpan, AppointedRole.DataService, new DateOnly(2025, 3, 31)));
        Assert.Null(book.Appointed(Mpan, AppointedRole.DataService, new DateOnly(2025, 4, 1)));

        var incoming = (JsonObject)JsonNode.Parse(Encoding.UTF8.GetString(deApp))!["payload"]!["CustomBlock"]!.DeepClone();
        incoming["B011"] = new JsonObject { ["incomingDataServiceDIPID"] = "2000000002", ["incomingDataServiceEffectiveFromDate"] = "2025-04-01T00:00:00+00:00" };
        var replaced = BookOf(DataServiceActive(Mpan, "2000000001", "2025-01-01"), Message("IF-037", "[DSDeApp]", Mpan, incoming));
        Assert.Equal("2000000002", replaced.Appointed(Mpan, AppointedRole.DataService, new DateOnly(2025, 4, 1)));
    }

    [Fact]
    public void A_late_de_appointment_does_not_unseat_the_party_already_appointed_after_it()
    {
        var book = new AppointmentBook();
        book.Apply(new AppointmentChange(Mpan, AppointmentChangeKind.Appoint, AppointedRole.MeteringService, "6000000001", Jan1));
        book.Apply(new AppointmentChange(Mpan, AppointmentChangeKind.Appoint, AppointedRole.MeteringService, "6000000002", new DateOnly(2025, 2, 1)));
        book.Apply(new AppointmentChange(Mpan, AppointmentChangeKind.Deappoint, AppointedRole.MeteringService, "6000000001", new DateOnly(2025, 1, 31)));
        Assert.Equal("6000000002", book.Appointed(Mpan, AppointedRole.MeteringService, new DateOnly(2025, 2, 1)));
        Assert.Equal("6000000001", book.Appointed(Mpan, AppointedRole.MeteringService, new DateOnly(2025, 1, 31)));
    }

    [Fact]
    public void A_deregistration_ends_every_appointment_from_its_date()
    {
        var deregistration = Message("IF-009", "[CSSDeRegistration]", Mpan, new JsonObject
        {
            ["B042"] = new JsonObject { ["CSSMPANDeRegistrationDate"] = "2025-06-01T00:00:00+01:00" },
        });
        var book = BookOf(Registration(Mpan, "1000000001", "2025-01-01"), DataServiceActive(Mpan, "2000000001", "2025-01-01", "6000000001"), deregistration);
        Assert.True(book.TryFind(Mpan, new DateOnly(2025, 6, 1), out var after));
        Assert.False(after.Supplier.IsHeld || after.DataService.IsHeld || after.MeteringService.IsHeld);
        Assert.Equal(new DateOnly(2025, 6, 1), after.Supplier.From);
        Assert.Equal("1000000001", book.Appointed(Mpan, AppointedRole.Supplier, new DateOnly(2025, 5, 31)));
    }

    [Fact]
    public void Appointment_requests_and_responses_change_nothing_until_the_registration_service_notifies_them()
    {
        var request = Message("IF-031", "[MSApp]", Mpan, new JsonObject
        {
            ["B070"] = new JsonObject { ["proposedMeteringServiceDIPID"] = "6000000009", ["proposedMeteringServiceDIPEffectiveFromDate"] = "2025-01-01T00:00:00+00:00", ["appointmentScenario"] = "COS" },
        });
        Assert.Equal(0, AppointmentMessages.Read(request, []));
        Assert.False(AppointmentMessages.CanChangeAppointments("IF-031", "[MSApp]"));
        Assert.True(AppointmentMessages.CanChangeAppointments("IF-036", "[MSAppActive]"));
    }

    [Fact]
    public void A_snapshot_read_back_answers_every_question_as_the_book_that_wrote_it()
    {
        var (book, mpans) = RandomBook(20_000, seed: 3);
        using var stream = new MemoryStream();
        book.WriteSnapshot(stream);
        stream.Position = 0;
        var copy = AppointmentBook.ReadSnapshot(stream);

        Assert.Equal(book.Count, copy.Count);
        AssertSameAnswers(book, copy, mpans);
        Assert.InRange(stream.Length / (double)book.Count, 30, 40);
    }

    [Fact]
    public void A_book_rebuilt_by_replaying_the_messages_equals_the_snapshot_of_the_original()
    {
        var random = new Random(8);
        var messages = new List<byte[]>();
        var mpans = new List<long>();
        for (var i = 0; i < 2000; i++)
        {
            var mpan = 1000000000000L + random.Next(500) * 7L;
            mpans.Add(mpan);
            var day = new DateOnly(2024, 1, 1).AddDays(random.Next(400)).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
            messages.Add(random.Next(3) switch
            {
                0 => Registration(mpan, "10000000" + random.Next(10, 30), day, changeOfSupplier: true),
                1 => DataServiceActive(mpan, "20000000" + random.Next(10, 20), day, random.Next(2) == 0 ? null : "60000000" + random.Next(10, 20)),
                _ => Message("IF-009", "[CSSDeRegistration]", mpan, new JsonObject { ["B042"] = new JsonObject { ["CSSMPANDeRegistrationDate"] = day + "T00:00:00+00:00" } }),
            });
        }

        var original = BookOf([.. messages]);
        using var snapshot = new MemoryStream();
        original.WriteSnapshot(snapshot);
        snapshot.Position = 0;
        var rebuilt = BookOf([.. messages]);

        AssertSameAnswers(AppointmentBook.ReadSnapshot(snapshot), rebuilt, mpans);
    }

    [Fact]
    public void A_damaged_or_truncated_snapshot_is_refused_whole()
    {
        var (book, _) = RandomBook(1000, seed: 4);
        using var stream = new MemoryStream();
        book.WriteSnapshot(stream);
        var bytes = stream.ToArray();

        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0x10;
        Assert.Throws<InvalidDataException>(() => AppointmentBook.ReadSnapshot(new MemoryStream(flipped)));
        Assert.Throws<InvalidDataException>(() => AppointmentBook.ReadSnapshot(new MemoryStream(bytes[..^3])));
        Assert.Throws<InvalidDataException>(() => AppointmentBook.ReadSnapshot(new MemoryStream(bytes[..100])));
    }

    [Fact]
    public void The_book_grows_without_losing_a_metering_point()
    {
        var (book, mpans) = RandomBook(50_000, seed: 5, presize: false);
        foreach (var mpan in mpans)
        {
            Assert.NotNull(book.Distributor(mpan));
        }
    }

    private static readonly string[] PartyNames = [.. Enumerable.Range(0, 100).Select(i => i.ToString("D8", System.Globalization.CultureInfo.InvariantCulture))];

    internal static string Party(string prefix, int i) => string.Concat(prefix, PartyNames[i]);

    internal static (AppointmentBook Book, List<long> Mpans) RandomBook(int changes, int seed, bool presize = true)
    {
        var random = new Random(seed);
        var book = new AppointmentBook(presize ? changes : 16);
        var mpans = new List<long>();
        for (var i = 0; i < changes; i++)
        {
            var mpan = 1_000_000_000_000L + random.NextInt64(changes) * 11;
            mpans.Add(mpan);
            var kind = (AppointmentChangeKind)random.Next(3);
            var role = (AppointedRole)random.Next(3);
            var party = kind == AppointmentChangeKind.Deregister ? null : Party(((int)role + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) + "0", random.Next(20));
            book.Apply(new AppointmentChange(mpan, kind, role, party, Jan1.AddDays(random.Next(-400, 400)), Party("30", random.Next(14))));
        }

        return (book, mpans);
    }

    private static void AssertSameAnswers(AppointmentBook expected, AppointmentBook actual, List<long> mpans)
    {
        foreach (var mpan in mpans)
        {
            for (var day = -450; day <= 450; day += 90)
            {
                Assert.Equal(expected.TryFind(mpan, Jan1.AddDays(day), out var e), actual.TryFind(mpan, Jan1.AddDays(day), out var a));
                Assert.Equal(e, a);
            }
        }
    }
}
