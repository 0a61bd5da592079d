using System.Buffers;
using System.Text;

namespace Beyla.Implementation;

/// <summary>
/// Parses the request line at the start of a captured request head: <c>METHOD SP target SP
/// HTTP/1.x CRLF</c>. The capture may end inside the line; then the path holds what was
/// captured and the result is marked truncated.
/// </summary>
internal static class RequestLineParser
{
    private const int MaxMethodLength = 16;

    /// <summary>The bytes of an HTTP token (RFC 9110 tchar).</summary>
    private static readonly SearchValues<byte> TokenChars = SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    public static bool TryParse(ReadOnlySpan<byte> head, bool captureQuery, out RequestLine line)
    {
        line = default;
        int sp = head.IndexOf((byte)' ');
        if (sp <= 0 || sp > MaxMethodLength)
            return false;
        ReadOnlySpan<byte> method = head[..sp];
        if (method.ContainsAnyExcept(TokenChars))
            return false;

        ReadOnlySpan<byte> rest = head[(sp + 1)..];
        int lineEnd = rest.IndexOfAny((byte)'\r', (byte)'\n');
        bool truncated = lineEnd < 0;
        ReadOnlySpan<byte> lineRest = truncated ? rest : rest[..lineEnd];

        int targetEnd = lineRest.IndexOf((byte)' ');
        ReadOnlySpan<byte> target;
        string version = "1.1";
        if (targetEnd < 0)
        {
            if (!truncated)
            {
                // HTTP/0.9 style "GET /path" with no version: not what the probes accept.
                return false;
            }
            target = lineRest;
        }
        else
        {
            target = lineRest[..targetEnd];
            ReadOnlySpan<byte> ver = lineRest[(targetEnd + 1)..];
            if (ver.SequenceEqual("HTTP/1.1"u8))
                version = "1.1";
            else if (ver.SequenceEqual("HTTP/1.0"u8))
                version = "1.0";
            else if (truncated && "HTTP/1.1".AsSpan().StartsWith(Encoding.ASCII.GetString(ver)))
                version = "1.1"; // the capture ended inside the version
            else
                return false;
        }

        if (target.IsEmpty && !truncated)
            return false;
        if (target.ContainsAnyExceptInRange((byte)0x21, (byte)0x7e))
            return false; // controls, spaces and non-ASCII bytes: not a request target

        // Absolute form (proxies): keep only the path.
        if (target.StartsWith("http://"u8) || target.StartsWith("https://"u8))
        {
            int schemeEnd = target.IndexOf("//"u8) + 2;
            int pathStart = target[schemeEnd..].IndexOf((byte)'/');
            target = pathStart < 0 ? "/"u8 : target[(schemeEnd + pathStart)..];
        }

        int q = target.IndexOf((byte)'?');
        ReadOnlySpan<byte> path = q < 0 ? target : target[..q];
        string? query = null;
        if (captureQuery && q >= 0)
            query = Encoding.ASCII.GetString(target[(q + 1)..]);

        line = new RequestLine(HttpMethods.Intern(method), PathCache.Get(path), query, version, truncated);
        return true;
    }
}
