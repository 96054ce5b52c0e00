using System.Net;
using System.Text.Json;

namespace Halfhour.Server.Tests;

internal static class ProblemAssert
{
    /// <summary>Asserts an RFC 9457 answer with the status and reason; returns its detail.</summary>
    public static async Task<string> IsProblemAsync(HttpResponseMessage response, HttpStatusCode status, string reason)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(text);
        var root = json.RootElement;
        Assert.Equal((int)status, root.GetProperty("status").GetInt32());
        Assert.True(reason == root.GetProperty("reason").GetString(), $"expected reason {reason}: {text}");
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("title").GetString()));
        var detail = root.GetProperty("detail").GetString();
        Assert.False(string.IsNullOrWhiteSpace(detail));
        Assert.True(root.TryGetProperty("traceId", out _), "every problem carries the trace id");
        return detail!;
    }
}
