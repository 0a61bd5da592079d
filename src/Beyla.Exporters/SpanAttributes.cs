namespace Beyla.Exporters;

/// <summary>
/// The attribute names the exporters know, as the OpenTelemetry semantic conventions spell
/// them (Prometheus labels replace the dots with underscores). Use them with
/// <see cref="AttributeSelection"/>.
/// </summary>
public static class SpanAttributes
{
    /// <summary><c>http.request.method</c>: GET, POST, ...</summary>
    public const string RequestMethod = "http.request.method";

    /// <summary><c>http.response.status_code</c>; absent when no response was seen.</summary>
    public const string ResponseStatusCode = "http.response.status_code";

    /// <summary><c>http.route</c>: the low-cardinality route (<see cref="HttpSpan.Route"/>).</summary>
    public const string Route = "http.route";

    /// <summary><c>service.name</c>: the traced process's service (<see cref="HttpSpan.ServiceName"/>).</summary>
    public const string ServiceName = "service.name";

    /// <summary><c>server.address</c>: the server's IP address.</summary>
    public const string ServerAddress = "server.address";

    /// <summary><c>server.port</c>: the server's port.</summary>
    public const string ServerPort = "server.port";

    /// <summary><c>client.address</c>: the client's IP address. Opt-in: unbounded and personal.</summary>
    public const string ClientAddress = "client.address";

    /// <summary><c>url.path</c>: the raw path, without the query. Opt-in on metrics: unbounded.</summary>
    public const string UrlPath = "url.path";

    /// <summary><c>network.protocol.version</c>: 1.0 or 1.1.</summary>
    public const string ProtocolVersion = "network.protocol.version";

    internal static readonly string[] All =
        [RequestMethod, ResponseStatusCode, Route, ServiceName, ServerAddress, ServerPort, ClientAddress, UrlPath, ProtocolVersion];
}
