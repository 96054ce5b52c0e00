using System.Buffers;

namespace Halfhour.Server.Identity;

/// <summary>
/// A request body read whole into a pooled buffer, bounded by the size limit, so that it can be hashed for the
/// signature and then handed to the publish pipeline without a second copy. The buffer returns to the pool when
/// the response completes; nothing may keep <see cref="Memory"/> beyond the request.
/// </summary>
public sealed class RequestBody : IDisposable
{
    // 16 KB first: most requests are a few messages; larger bodies grow by doubling.
    private const int InitialBufferBytes = 16 * 1024;

    private byte[] _buffer;
    private int _length;

    private RequestBody(byte[] buffer) => _buffer = buffer;

    /// <summary>The bytes received.</summary>
    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, _length);

    /// <summary>Reads the body of a request; null when it is larger than <paramref name="maxBytes"/>.</summary>
    public static async Task<RequestBody?> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength > maxBytes) return null;

        var initial = (int)Math.Min(request.ContentLength ?? InitialBufferBytes, maxBytes + 1);
        var body = new RequestBody(ArrayPool<byte>.Shared.Rent(Math.Max(initial, 1)));
        request.HttpContext.Response.RegisterForDispose(body);
        while (true)
        {
            if (body._length == body._buffer.Length)
            {
                if (body._length > maxBytes) return null;
                body.Grow((int)Math.Min((long)body._buffer.Length * 2, maxBytes + 1));
            }

            var read = await request.Body.ReadAsync(body._buffer.AsMemory(body._length), cancellationToken);
            if (read == 0) return body;
            body._length += read;
            if (body._length > maxBytes) return null;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0) ArrayPool<byte>.Shared.Return(buffer);
    }

    private void Grow(int size)
    {
        var larger = ArrayPool<byte>.Shared.Rent(size);
        _buffer.AsSpan(0, _length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }
}
