
namespace Halfhour.Server.Documentation;

/// <summary>
/// <c>/openapi/v1.json</c>: the OpenAPI description of the backbone's own APIs — the native pull API and the operator
/// API. The DIP participant paths are described by the DIP's published specification, which they follow.
/// </summary>
internal static class OpenApiDocument
{
    public const string Name = "v1";

    public static void Add(IServiceCollection services) => services.AddOpenApi(Name, options =>
    {
        options.ShouldInclude = description => description.RelativePath is { } path
            && (path.StartsWith("native/", StringComparison.Ordinal) || path.StartsWith("operator/", StringComparison.Ordinal));
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Halfhour backbone: native and operator API";
            document.Info.Description =
                "Native pull API for participants (mutual TLS or X-API-Key, and DIP signature headers on every request) and the operator's " +
                "participant administration (X-Operator-Key). Errors are RFC 9457 problem details with a stable 'reason'. " +
                "Native channel 'statusmessage' delivers the status messages recipients sent about the caller's messages. " +
                "The DIP participant API (/dip-channel/..., /statusmessage/...) follows the DIP specification 2.2.1.";
            return Task.CompletedTask;
        });
    });

    public static void Map(IEndpointRouteBuilder routes) => routes.MapOpenApi("/openapi/{documentName}.json");
}
