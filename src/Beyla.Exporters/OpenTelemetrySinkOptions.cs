namespace Beyla.Exporters;

/// <summary>
/// Settings of an <see cref="OpenTelemetrySpanSink"/>. <see cref="MetricsOptions.MaxSeriesPerMetric"/>
/// does not apply here: the OpenTelemetry SDK enforces its own cardinality limit.
/// </summary>
public sealed class OpenTelemetrySinkOptions : MetricsOptions
{
    /// <summary>Create an <see cref="System.Diagnostics.Activity"/> per span when the source has listeners. Default true.</summary>
    public bool RecordTraces { get; set; } = true;

    /// <summary>Record the RED histograms on the meter when it has listeners. Default true.</summary>
    public bool RecordMetrics { get; set; } = true;
}
