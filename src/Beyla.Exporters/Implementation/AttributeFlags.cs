namespace Beyla.Exporters.Implementation;

/// <summary>A set of <see cref="SpanAttributes"/>, in the order labels are written.</summary>
[Flags]
internal enum AttributeFlags
{
    None = 0,
    RequestMethod = 1 << 0,
    ResponseStatusCode = 1 << 1,
    Route = 1 << 2,
    ServiceName = 1 << 3,
    ServerAddress = 1 << 4,
    ServerPort = 1 << 5,
    ClientAddress = 1 << 6,
    UrlPath = 1 << 7,
    ProtocolVersion = 1 << 8,
}
