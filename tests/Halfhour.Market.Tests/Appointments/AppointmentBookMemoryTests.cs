using Halfhour.Market.Appointments;

namespace Halfhour.Market.Tests.Appointments;

/// <summary>Tests that measure the whole process's heap, so no other test may allocate while they run.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public class HeapMeasurement
{
    public const string Name = "heap measurement";
}

[Collection(HeapMeasurement.Name)]
public class AppointmentBookMemoryTests
{
    [Fact]
    public void A_market_of_metering_points_costs_about_forty_bytes_each()
    {
        const int meteringPoints = 1_000_000;
        string[] suppliers = [.. Enumerable.Range(0, 60).Select(i => AppointmentBookTests.Party("10", i))], distributors = [.. Enumerable.Range(0, 14).Select(i => AppointmentBookTests.Party("30", i))];
        string[] dataServices = [.. Enumerable.Range(0, 35).Select(i => AppointmentBookTests.Party("20", i))], meteringServices = [.. Enumerable.Range(0, 85).Select(i => AppointmentBookTests.Party("60", i))];
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var book = new AppointmentBook(meteringPoints);
        for (var i = 0; i < meteringPoints; i++)
        {
            var mpan = 1_000_000_000_000L + i * 13L;
            book.Apply(new AppointmentChange(mpan, AppointmentChangeKind.Appoint, AppointedRole.Supplier, suppliers[i % 60], new DateOnly(2025, 1, 1), distributors[i % 14]));
            book.Apply(new AppointmentChange(mpan, AppointmentChangeKind.Appoint, AppointedRole.DataService, dataServices[i % 35], new DateOnly(2025, 1, 1)));
            book.Apply(new AppointmentChange(mpan, AppointmentChangeKind.Appoint, AppointedRole.MeteringService, meteringServices[i % 85], new DateOnly(2025, 1, 1)));
        }

        var measured = (GC.GetTotalMemory(forceFullCollection: true) - before) / (double)meteringPoints;
        Assert.Equal(meteringPoints, book.Count);
        Assert.InRange(book.MemoryBytes / (double)meteringPoints, 30, 45);
        Assert.InRange(measured, 30, 45);
        Console.WriteLine($"appointment book: {book.MemoryBytes / (double)meteringPoints:F1} bytes per MPAN by its tables, {measured:F1} measured by the GC");
        GC.KeepAlive(book);
    }
}
