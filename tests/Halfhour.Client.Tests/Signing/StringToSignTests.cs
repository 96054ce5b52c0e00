using Halfhour.Client.Signing;

namespace Halfhour.Client.Tests.Signing;

public class StringToSignTests
{
    [Fact]
    public void The_string_to_sign_is_method_lowercased_url_date_and_hash_joined_by_semicolons()
    {
        var text = StringToSign.Build("POST", "https://Backbone.Example:8443/DIP-Channel/IF-021?Mode=X", "2026-11-27T07:55:00.000Z", "AbC=");

        Assert.Equal("POST;https://backbone.example:8443/dip-channel/if-021?mode=x;2026-11-27T07:55:00.000Z;AbC=", text);
    }

    [Fact]
    public void The_content_hash_is_base64_of_the_sha256_of_the_body()
    {
        Assert.Equal("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", StringToSign.ContentHash([]));
        Assert.Equal("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", StringToSign.ContentHash("abc"u8));
    }

    [Fact]
    public void The_signature_date_is_written_in_utc_with_milliseconds_and_reads_back()
    {
        var instant = new DateTimeOffset(2026, 11, 27, 8, 55, 1, 234, TimeSpan.FromHours(1));

        var text = StringToSign.FormatDate(instant);

        Assert.Equal("2026-11-27T07:55:01.234Z", text);
        Assert.True(StringToSign.TryParseDate(text, out var parsed));
        Assert.Equal(instant, parsed);
    }

    [Theory]
    [InlineData("2026-11-27T07:55:01+00:00")]
    [InlineData("2026-11-27T08:55:01.5+01:00")]
    [InlineData("2026-11-27T07:55:01Z")]
    public void Signature_dates_with_an_offset_are_accepted(string text) =>
        Assert.True(StringToSign.TryParseDate(text, out _));

    [Theory]
    [InlineData("2026-11-27T07:55:01")]
    [InlineData("27/11/2026 07:55")]
    [InlineData("Fri, 27 Nov 2026 07:55:01 GMT")]
    [InlineData("")]
    public void Signature_dates_without_an_offset_or_not_iso_8601_are_refused(string text) =>
        Assert.False(StringToSign.TryParseDate(text, out _));
}
