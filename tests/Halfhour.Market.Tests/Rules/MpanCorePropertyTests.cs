using System.Globalization;
using System.Text;
using CsCheck;
using Halfhour.Market.Rules;

namespace Halfhour.Market.Tests.Rules;

public class MpanCorePropertyTests
{
    private static readonly Gen<string> FirstTwelve = Gen.String[Gen.Char["0123456789"], 12, 12];

    private static string WithCheckDigit(string twelve) => twelve + MpanCore.CheckDigit(twelve).ToString(CultureInfo.InvariantCulture);

    [Fact]
    public void Twelve_digits_followed_by_their_check_digit_are_a_valid_MPAN_core_as_text_and_as_bytes() =>
        FirstTwelve.Sample(twelve =>
        {
            var mpan = WithCheckDigit(twelve);
            Assert.True(MpanCore.IsValid(mpan));
            Assert.True(MpanCore.IsValid(Encoding.ASCII.GetBytes(mpan)));
        });

    [Fact]
    public void Every_other_check_digit_is_rejected() =>
        Gen.Select(FirstTwelve, Gen.Int[1, 9]).Sample((twelve, shift) =>
        {
            var wrong = twelve + ((MpanCore.CheckDigit(twelve) + shift) % 10).ToString(CultureInfo.InvariantCulture);
            Assert.False(MpanCore.IsValid(wrong));
            Assert.False(MpanCore.IsValid(Encoding.ASCII.GetBytes(wrong)));
        });

    [Fact]
    public void The_check_digit_is_the_weighted_sum_mod_11_mod_10() =>
        FirstTwelve.Sample(twelve =>
        {
            int[] weights = [3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43];
            var sum = 0;
            for (var i = 0; i < 12; i++)
            {
                sum += (twelve[i] - '0') * weights[i];
            }

            Assert.Equal(sum % 11 % 10, MpanCore.CheckDigit(twelve));
        });

    [Fact]
    public void A_non_digit_anywhere_or_another_length_is_never_valid() =>
        Gen.Select(FirstTwelve, Gen.Int[0, 12], Gen.Char, Gen.Int[0, 20]).Sample((twelve, at, c, length) =>
        {
            var mpan = WithCheckDigit(twelve);
            if (!char.IsAsciiDigit(c))
            {
                var broken = mpan[..at] + c + mpan[(at + 1)..];
                Assert.False(MpanCore.IsValid(broken));
                Assert.False(MpanCore.IsValid(Encoding.UTF8.GetBytes(broken)));
            }

            if (length != MpanCore.Length)
            {
                var resized = (mpan + mpan)[..length];
                Assert.False(MpanCore.IsValid(resized));
            }
        });

    [Fact]
    public void Text_and_bytes_agree_on_any_thirteen_characters() =>
        Gen.String[Gen.Char["0123456789x"], 13, 13].Sample(text =>
            Assert.Equal(MpanCore.IsValid(text), MpanCore.IsValid(Encoding.ASCII.GetBytes(text))));

    [Fact]
    public void An_MPAN_core_survives_the_round_trip_through_a_number() =>
        FirstTwelve.Sample(twelve =>
        {
            var mpan = WithCheckDigit(twelve);
            var number = long.Parse(mpan, CultureInfo.InvariantCulture);
            Assert.Equal(mpan, number.ToString("D13", CultureInfo.InvariantCulture));
        });
}
