using System.Net;

namespace Beyla.Exporters.Implementation;

/// <summary>
/// The selected attribute values of one span for one metric. A value struct over the span's
/// own (cached) strings, so finding a series allocates nothing.
/// </summary>
internal readonly record struct SeriesKey(
    string? Method,
    int StatusCode,
    string? Route,
    string? ServiceName,
    IPAddress? ServerAddress,
    int ServerPort,
    IPAddress? ClientAddress,
    string? UrlPath,
    string? ProtocolVersion)
{
    public static SeriesKey From(HttpSpan span, AttributeFlags flags) => new(
        (flags & AttributeFlags.RequestMethod) != 0 ? span.Method : null,
        (flags & AttributeFlags.ResponseStatusCode) != 0 ? span.StatusCode : -1,
        (flags & AttributeFlags.Route) != 0 ? span.Route : null,
        (flags & AttributeFlags.ServiceName) != 0 ? span.ServiceName : null,
        (flags & AttributeFlags.ServerAddress) != 0 ? span.ServerAddress : null,
        (flags & AttributeFlags.ServerPort) != 0 ? span.ServerPort : -1,
        (flags & AttributeFlags.ClientAddress) != 0 ? span.ClientAddress : null,
        (flags & AttributeFlags.UrlPath) != 0 ? span.Path : null,
        (flags & AttributeFlags.ProtocolVersion) != 0 ? span.ProtocolVersion : null);

    /// <summary>The attributes as (OpenTelemetry name, value) pairs, in a fixed order; a status of 0 (no response) is left out.</summary>
    public IEnumerable<KeyValuePair<string, string>> Attributes()
    {
        if (Method is not null)
            yield return new(SpanAttributes.RequestMethod, Method);
        if (StatusCode > 0)
            yield return new(SpanAttributes.ResponseStatusCode, StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (Route is not null)
            yield return new(SpanAttributes.Route, Route);
        if (ServiceName is not null)
            yield return new(SpanAttributes.ServiceName, ServiceName);
        if (ServerAddress is not null)
            yield return new(SpanAttributes.ServerAddress, ServerAddress.ToString());
        if (ServerPort >= 0)
            yield return new(SpanAttributes.ServerPort, ServerPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (ClientAddress is not null)
            yield return new(SpanAttributes.ClientAddress, ClientAddress.ToString());
        if (UrlPath is not null)
            yield return new(SpanAttributes.UrlPath, UrlPath);
        if (ProtocolVersion is not null)
            yield return new(SpanAttributes.ProtocolVersion, ProtocolVersion);
    }
}
