namespace Beyla.Exporters.Implementation;

/// <summary>One of the RED histograms, with its names in both worlds and its default attributes.</summary>
internal sealed record HttpMetric(
    string OtelName,
    string PrometheusName,
    string Unit,
    string Description,
    HttpSpanKind Kind,
    HttpMetricValue Value,
    AttributeFlags DefaultAttributes)
{
    private const AttributeFlags ServerDefaults =
        AttributeFlags.RequestMethod | AttributeFlags.ResponseStatusCode | AttributeFlags.Route | AttributeFlags.ServiceName;

    private const AttributeFlags ClientDefaults =
        AttributeFlags.RequestMethod | AttributeFlags.ResponseStatusCode | AttributeFlags.ServiceName
        | AttributeFlags.ServerAddress | AttributeFlags.ServerPort;

    public static readonly HttpMetric ServerDuration = new("http.server.request.duration", "http_server_request_duration_seconds", "s",
        "Duration of HTTP service calls from the server side, first request byte to last response byte", HttpSpanKind.Server, HttpMetricValue.Duration, ServerDefaults);

    public static readonly HttpMetric ServerRequestSize = new("http.server.request.body.size", "http_server_request_body_size_bytes", "By",
        "Size of HTTP requests received at the server side (head and body, as on the wire)", HttpSpanKind.Server, HttpMetricValue.RequestSize, ServerDefaults);

    public static readonly HttpMetric ServerResponseSize = new("http.server.response.body.size", "http_server_response_body_size_bytes", "By",
        "Size of HTTP responses sent from the server side (head and body, as on the wire)", HttpSpanKind.Server, HttpMetricValue.ResponseSize, ServerDefaults);

    public static readonly HttpMetric ClientDuration = new("http.client.request.duration", "http_client_request_duration_seconds", "s",
        "Duration of HTTP service calls from the client side, first request byte to last response byte", HttpSpanKind.Client, HttpMetricValue.Duration, ClientDefaults);

    public static readonly HttpMetric ClientRequestSize = new("http.client.request.body.size", "http_client_request_body_size_bytes", "By",
        "Size of HTTP requests sent from the client side (head and body, as on the wire)", HttpSpanKind.Client, HttpMetricValue.RequestSize, ClientDefaults);

    public static readonly HttpMetric ClientResponseSize = new("http.client.response.body.size", "http_client_response_body_size_bytes", "By",
        "Size of HTTP responses received at the client side (head and body, as on the wire)", HttpSpanKind.Client, HttpMetricValue.ResponseSize, ClientDefaults);

    public static readonly HttpMetric[] All = [ServerDuration, ServerRequestSize, ServerResponseSize, ClientDuration, ClientRequestSize, ClientResponseSize];

    public double Measure(HttpSpan span) => Value switch
    {
        HttpMetricValue.Duration => span.DurationNanoseconds / 1e9,
        HttpMetricValue.RequestSize => span.RequestBytes,
        _ => span.ResponseBytes,
    };
}
