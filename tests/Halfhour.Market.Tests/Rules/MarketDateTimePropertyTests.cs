using System.Globalization;
using System.Text;
using CsCheck;
using Halfhour.Market.Rules;

namespace Halfhour.Market.Tests.Rules;

public class MarketDateTimePropertyTests
{
    private static readonly Gen<DateTimeOffset> Instants = Gen.Select(
        Gen.Long[new DateTime(1900, 1, 1).Ticks / TimeSpan.TicksPerSecond, new DateTime(2200, 1, 1).Ticks / TimeSpan.TicksPerSecond],
        Gen.Int[-14 * 60, 14 * 60],
        (seconds, offsetMinutes) => new DateTimeOffset(seconds * TimeSpan.TicksPerSecond, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(offsetMinutes)));

    private static string Written(DateTimeOffset value) => value.ToString("yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);

    [Fact]
    public void Any_instant_written_with_any_offset_reads_back_as_the_same_instant() =>
        Instants.Sample(instant =>
        {
            var text = Written(instant);
            Assert.Equal(MarketDateTime.Length, text.Length);
            Assert.True(MarketDateTime.TryParse(text, out var read));
            Assert.Equal(instant, read);
            Assert.Equal(instant.Offset, read.Offset);
            Assert.True(MarketDateTime.TryParseUnixSeconds(Encoding.ASCII.GetBytes(text), out var seconds));
            Assert.Equal(instant.ToUnixTimeSeconds(), seconds);
        });

    [Fact]
    public void Formatting_writes_UTC_and_reads_back_unchanged() =>
        Instants.Sample(instant =>
        {
            var text = MarketDateTime.Format(instant);
            Assert.EndsWith("+00:00", text, StringComparison.Ordinal);
            Assert.True(MarketDateTime.TryParse(text, out var read));
            Assert.Equal(instant, read);
            Assert.Equal(text, MarketDateTime.Format(read));
        });

    [Fact]
    public void Both_parsers_accept_exactly_what_the_framework_reads_as_a_real_instant_in_this_format() =>
        Gen.Select(Instants, Gen.Int[0, 24], Gen.Char["0123456789+-:T "]).Sample((instant, at, c) =>
        {
            var chars = Written(instant).ToCharArray();
            chars[at] = c;
            var text = new string(chars);
            var framework = DateTimeOffset.TryParseExact(text, "yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture, DateTimeStyles.None, out var expected)
                && text[19] is '+' or '-' && text.Length == MarketDateTime.Length;

            Assert.Equal(framework, MarketDateTime.TryParse(text, out var read));
            Assert.Equal(framework, MarketDateTime.TryParseUnixSeconds(Encoding.ASCII.GetBytes(text), out var seconds));
            if (framework)
            {
                Assert.Equal(expected, read);
                Assert.Equal(expected.ToUnixTimeSeconds(), seconds);
            }
        });

    [Fact]
    public void Any_other_length_is_refused() =>
        Gen.Select(Instants, Gen.Int[0, 40]).Sample((instant, length) =>
        {
            var text = (Written(instant) + "0000000000000000")[..length];
            Assert.Equal(length == MarketDateTime.Length, MarketDateTime.TryParse(text, out _));
        });
}
