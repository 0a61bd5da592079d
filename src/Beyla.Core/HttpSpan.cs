using System.Diagnostics;
using System.Net;

namespace Beyla;

/// <summary>
/// One HTTP request and its response, as seen from a traced process: the unit the library
/// produces. Durations are response times (first request byte to last response byte), not
/// handler execution times.
/// </summary>
public sealed class HttpSpan
{
    /// <summary>Whether the traced process was the server or the client.</summary>
    public HttpSpanKind Kind { get; init; } = HttpSpanKind.Server;

    /// <summary>The request method, for example <c>GET</c>.</summary>
    public string Method { get; init; } = "";

    /// <summary>The request path, without the query string.</summary>
    public string Path { get; init; } = "";

    /// <summary>
    /// The route: the matching <see cref="BeylaOptions.RoutePatterns">pattern</see>, or the path
    /// made low-cardinality as <see cref="BeylaOptions.UnmatchedRoutes"/> says. Bounded per
    /// service by <see cref="BeylaOptions.MaxRoutesPerService"/>; this is what metrics use.
    /// </summary>
    public string Route { get; init; } = "/**";

    /// <summary>The service of the traced process (see <see cref="BeylaOptions.ServiceNameResolver"/>).</summary>
    public string ServiceName { get; init; } = "unknown_service";

    /// <summary>
    /// The trace this request continues: parsed from a W3C <c>traceparent</c> header in the
    /// captured request head, else <see langword="default"/>. Used for context propagation
    /// only; headers themselves are never exported.
    /// </summary>
    public ActivityContext ParentContext { get; init; }

    /// <summary>
    /// The query string without its leading <c>?</c>; <see langword="null"/> unless
    /// <see cref="BeylaOptions.CaptureQueryString"/> is set, or when the request had none.
    /// </summary>
    public string? QueryString { get; init; }

    /// <summary>The response status code; 0 when no response was seen.</summary>
    public int StatusCode { get; init; }

    /// <summary>The HTTP version of the request, for example <c>1.1</c>.</summary>
    public string ProtocolVersion { get; init; } = "1.1";

    /// <summary>When the first byte of the request was read (server) or written (client).</summary>
    public DateTimeOffset StartTime { get; init; }

    /// <summary>
    /// <see cref="StartTime"/> as a <see cref="System.Diagnostics.Stopwatch"/> timestamp
    /// (CLOCK_MONOTONIC nanoseconds on Linux), comparable with timestamps taken in any process.
    /// </summary>
    public long StartTimestamp { get; init; }

    /// <summary>Response time in nanoseconds: first request byte to last response byte.</summary>
    public long DurationNanoseconds { get; init; }

    /// <summary>Response time as a <see cref="TimeSpan"/>.</summary>
    public TimeSpan Duration => TimeSpan.FromTicks(DurationNanoseconds / 100);

    /// <summary>The time of the last response byte.</summary>
    public DateTimeOffset EndTime => StartTime + Duration;

    /// <summary>Bytes of the request, head and body.</summary>
    public long RequestBytes { get; init; }

    /// <summary>Bytes of the response, head and body.</summary>
    public long ResponseBytes { get; init; }

    /// <summary>The traced process.</summary>
    public int ProcessId { get; init; }

    /// <summary>The thread that started the exchange.</summary>
    public int ThreadId { get; init; }

    /// <summary>
    /// The traced process's end of the connection. Spans decoded by a tracer share one instance
    /// per address (decoding allocates none for an address seen lately): do not modify it.
    /// </summary>
    public IPAddress LocalAddress { get; init; } = IPAddress.None;

    /// <summary>The traced process's port.</summary>
    public int LocalPort { get; init; }

    /// <summary>The other end of the connection. Shared between spans, as <see cref="LocalAddress"/> is: do not modify it.</summary>
    public IPAddress PeerAddress { get; init; } = IPAddress.None;

    /// <summary>The other end's port.</summary>
    public int PeerPort { get; init; }

    /// <summary>Whether the exchange was carried over TLS.</summary>
    public bool IsTls { get; init; }

    /// <summary>How the library knew the exchange had ended.</summary>
    public SpanEndReason EndReason { get; init; } = SpanEndReason.ResponseComplete;

    /// <summary>
    /// Whether the request line was longer than what the kernel captured, so that
    /// <see cref="Path"/> holds only its beginning.
    /// </summary>
    public bool IsPathTruncated { get; init; }

    /// <summary>The server's address: <see cref="LocalAddress"/> for a server span, <see cref="PeerAddress"/> for a client span.</summary>
    public IPAddress ServerAddress => Kind == HttpSpanKind.Server ? LocalAddress : PeerAddress;

    /// <summary>The server's port.</summary>
    public int ServerPort => Kind == HttpSpanKind.Server ? LocalPort : PeerPort;

    /// <summary>The client's address.</summary>
    public IPAddress ClientAddress => Kind == HttpSpanKind.Server ? PeerAddress : LocalAddress;

    /// <summary>The client's port.</summary>
    public int ClientPort => Kind == HttpSpanKind.Server ? PeerPort : LocalPort;

    /// <inheritdoc />
    public override string ToString() =>
        $"{(Kind == HttpSpanKind.Server ? "server" : "client")} pid={ProcessId} {Method} {Path} {(StatusCode == 0 ? "-" : StatusCode)} " +
        $"{DurationNanoseconds / 1e6:F3}ms {LocalAddress}:{LocalPort}<->{PeerAddress}:{PeerPort} req={RequestBytes}B resp={ResponseBytes}B{(IsTls ? " tls" : "")}";
}
