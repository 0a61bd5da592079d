namespace Beyla;

/// <summary>How the library knew that an HTTP exchange had ended.</summary>
public enum SpanEndReason
{
    /// <summary>The response reached its declared length (Content-Length, last chunk, or no body).</summary>
    ResponseComplete = 1,

    /// <summary>
    /// The next request on the connection started before the response's end was seen: its length
    /// was unknown, or (a client) its last bytes were read where no hook sees them, as by splice
    /// into a pipe. The span ends at the last response bytes seen.
    /// </summary>
    NextRequest = 2,

    /// <summary>The connection was closed after (part of) a response.</summary>
    ConnectionClosed = 3,

    /// <summary>The connection was closed before any response: <see cref="HttpSpan.StatusCode"/> is 0.</summary>
    NoResponse = 4,
}
