using Beyla.Exporters.Implementation;

namespace Beyla.Exporters;

/// <summary>
/// Which attributes each metric (and, for the OpenTelemetry sink, each trace span) carries.
/// Starts from safe defaults: method, status code, route and service name on server
/// metrics; method, status code, service name, server address and port on client metrics.
/// <c>url.path</c> and <c>client.address</c> are never on metrics unless included here, as
/// they are unbounded. Rules apply in the order they are added.
/// </summary>
/// <example><c>selection.Include("http.server.request.duration", SpanAttributes.ServerPort).Exclude("*", SpanAttributes.ServiceName)</c></example>
public sealed class AttributeSelection
{
    /// <summary>Names every metric in <see cref="Include"/> and <see cref="Exclude"/>.</summary>
    public const string AllMetrics = "*";

    /// <summary>Names the trace spans (activities) of the OpenTelemetry sink in <see cref="Include"/> and <see cref="Exclude"/>.</summary>
    public const string Traces = "traces";

    internal const AttributeFlags TraceDefaults = AttributeFlags.RequestMethod | AttributeFlags.ResponseStatusCode | AttributeFlags.Route
        | AttributeFlags.ServiceName | AttributeFlags.ServerAddress | AttributeFlags.ServerPort | AttributeFlags.UrlPath | AttributeFlags.ProtocolVersion;

    private readonly List<(string Metric, AttributeFlags Flags, bool Include)> _rules = [];

    /// <summary>Adds attributes to a metric.</summary>
    /// <param name="metric">An OpenTelemetry metric name such as <c>http.server.request.duration</c>, <see cref="AllMetrics"/> or <see cref="Traces"/>.</param>
    /// <param name="attributes">Names from <see cref="SpanAttributes"/>.</param>
    /// <returns>This selection.</returns>
    /// <exception cref="ArgumentException">An unknown metric or attribute name.</exception>
    public AttributeSelection Include(string metric, params string[] attributes) => Add(metric, attributes, include: true);

    /// <summary>Removes attributes from a metric.</summary>
    /// <param name="metric">An OpenTelemetry metric name such as <c>http.server.request.duration</c>, <see cref="AllMetrics"/> or <see cref="Traces"/>.</param>
    /// <param name="attributes">Names from <see cref="SpanAttributes"/>.</param>
    /// <returns>This selection.</returns>
    /// <exception cref="ArgumentException">An unknown metric or attribute name.</exception>
    public AttributeSelection Exclude(string metric, params string[] attributes) => Add(metric, attributes, include: false);

    private AttributeSelection Add(string metric, string[] attributes, bool include)
    {
        ArgumentNullException.ThrowIfNull(metric);
        ArgumentNullException.ThrowIfNull(attributes);
        if (metric != AllMetrics && metric != Traces && !HttpMetric.All.Any(m => m.OtelName == metric))
        {
            throw new ArgumentException(
                $"unknown metric '{metric}'; known: {AllMetrics}, {Traces}, {string.Join(", ", HttpMetric.All.Select(m => m.OtelName))}", nameof(metric));
        }
        AttributeFlags flags = AttributeFlags.None;
        foreach (string attribute in attributes)
        {
            int index = Array.IndexOf(SpanAttributes.All, attribute);
            if (index < 0)
                throw new ArgumentException($"unknown attribute '{attribute}'; known: {string.Join(", ", SpanAttributes.All)}", nameof(attributes));
            flags |= (AttributeFlags)(1 << index);
        }
        _rules.Add((metric, flags, include));
        return this;
    }

    internal AttributeFlags Resolve(string metric, AttributeFlags defaults)
    {
        AttributeFlags flags = defaults;
        foreach ((string name, AttributeFlags ruleFlags, bool include) in _rules)
        {
            bool applies = name == metric || (name == AllMetrics && metric != Traces);
            if (!applies)
                continue;
            flags = include ? flags | ruleFlags : flags & ~ruleFlags;
        }
        return flags;
    }
}
