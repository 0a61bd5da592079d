namespace Beyla.Exporters.Implementation;

/// <summary>What a histogram measures.</summary>
internal enum HttpMetricValue
{
    Duration,
    RequestSize,
    ResponseSize,
}
