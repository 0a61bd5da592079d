using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;
using Beyla.Exporters.Implementation;

namespace Beyla.Exporters;

/// <summary>
/// Turns spans into <see cref="Activity"/> objects on the <see cref="ActivitySource"/> named
/// <see cref="SourceName"/> (kind server or client, the real start and end times, semantic
/// convention attributes, error status for 5xx, or for any 4xx/5xx on a client) and records
/// the RED histograms on the <see cref="Meter"/> of the same name. Any OpenTelemetry SDK
/// pipeline of the host exports them: <c>.AddSource(OpenTelemetrySpanSink.SourceName)</c>
/// and <c>.AddMeter(OpenTelemetrySpanSink.SourceName)</c>. A request that carried a W3C
/// <c>traceparent</c> header continues that trace.
/// </summary>
public sealed class OpenTelemetrySpanSink : ISpanSink, IDisposable
{
    /// <summary>The name of the activity source and of the meter: <c>Beyla</c>.</summary>
    public const string SourceName = "Beyla";

    private static readonly string? s_version = typeof(OpenTelemetrySpanSink).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;

    private readonly ActivitySource _source = new(SourceName, s_version);
    private readonly Meter _meter = new(SourceName, s_version);
    private readonly OpenTelemetrySinkOptions _options;
    private readonly AttributeFlags _traceAttributes;
    private readonly (HttpMetric Metric, AttributeFlags Attributes, Histogram<double> Histogram)[] _server;
    private readonly (HttpMetric Metric, AttributeFlags Attributes, Histogram<double> Histogram)[] _client;

    /// <summary>Creates the sink, its activity source and its meter.</summary>
    /// <param name="options">Settings; defaults when null.</param>
    public OpenTelemetrySpanSink(OpenTelemetrySinkOptions? options = null)
    {
        _options = options ?? new OpenTelemetrySinkOptions();
        _options.Validate();
        _traceAttributes = _options.Attributes.Resolve(AttributeSelection.Traces, AttributeSelection.TraceDefaults);
        (HttpMetric, AttributeFlags, Histogram<double>) Create(HttpMetric metric)
        {
            IReadOnlyList<double> buckets = metric.Value == HttpMetricValue.Duration ? _options.DurationBuckets : _options.SizeBuckets;
            Histogram<double> histogram = _meter.CreateHistogram(metric.OtelName, metric.Unit, metric.Description, tags: null,
                advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [.. buckets] });
            return (metric, _options.Attributes.Resolve(metric.OtelName, metric.DefaultAttributes), histogram);
        }
        _server = [Create(HttpMetric.ServerDuration), Create(HttpMetric.ServerRequestSize), Create(HttpMetric.ServerResponseSize)];
        _client = [Create(HttpMetric.ClientDuration), Create(HttpMetric.ClientRequestSize), Create(HttpMetric.ClientResponseSize)];
    }

    /// <inheritdoc />
    public void Export(ReadOnlySpan<HttpSpan> spans)
    {
        bool traces = _options.RecordTraces && _source.HasListeners();
        // Spans are not children of whatever activity happened to flow into the pipeline's thread.
        Activity? ambient = Activity.Current;
        if (ambient is not null)
            Activity.Current = null;
        try
        {
            foreach (HttpSpan span in spans)
            {
                if (_options.RecordMetrics)
                    RecordMetrics(span);
                if (traces)
                    RecordActivity(span);
            }
        }
        finally
        {
            if (ambient is not null)
                Activity.Current = ambient;
        }
    }

    private void RecordMetrics(HttpSpan span)
    {
        foreach ((HttpMetric metric, AttributeFlags attributes, Histogram<double> histogram) in span.Kind == HttpSpanKind.Server ? _server : _client)
        {
            if (!histogram.Enabled)
                continue;
            TagList tags = default;
            AddTags(ref tags, span, attributes);
            histogram.Record(metric.Measure(span), tags);
        }
    }

    private void RecordActivity(HttpSpan span)
    {
        ActivityKind kind = span.Kind == HttpSpanKind.Server ? ActivityKind.Server : ActivityKind.Client;
        string name = string.Concat(span.Method, " ", span.Route);
        using Activity? activity = _source.CreateActivity(name, kind, span.ParentContext, tags: null, links: null, ActivityIdFormat.W3C);
        if (activity is null)
            return; // not sampled
        activity.SetStartTime(span.StartTime.UtcDateTime);
        if (activity.IsAllDataRequested)
        {
            TagList tags = default;
            AddTags(ref tags, span, _traceAttributes);
            foreach (KeyValuePair<string, object?> tag in tags)
                activity.SetTag(tag.Key, tag.Value);
            if (span.IsTls)
                activity.SetTag("url.scheme", "https");
            activity.SetTag("process.pid", span.ProcessId);
        }
        bool error = span.StatusCode == 0 || span.StatusCode >= 500 || (kind == ActivityKind.Client && span.StatusCode >= 400);
        if (error)
            activity.SetStatus(ActivityStatusCode.Error, span.StatusCode == 0 ? "no response" : null);
        activity.Start();
        activity.SetEndTime(span.EndTime.UtcDateTime);
        activity.Stop();
    }

    private static void AddTags(ref TagList tags, HttpSpan span, AttributeFlags attributes)
    {
        if ((attributes & AttributeFlags.RequestMethod) != 0)
            tags.Add(SpanAttributes.RequestMethod, span.Method);
        if ((attributes & AttributeFlags.ResponseStatusCode) != 0 && span.StatusCode > 0)
            tags.Add(SpanAttributes.ResponseStatusCode, span.StatusCode);
        if ((attributes & AttributeFlags.Route) != 0)
            tags.Add(SpanAttributes.Route, span.Route);
        if ((attributes & AttributeFlags.ServiceName) != 0)
            tags.Add(SpanAttributes.ServiceName, span.ServiceName);
        if ((attributes & AttributeFlags.ServerAddress) != 0)
            tags.Add(SpanAttributes.ServerAddress, span.ServerAddress.ToString());
        if ((attributes & AttributeFlags.ServerPort) != 0)
            tags.Add(SpanAttributes.ServerPort, span.ServerPort);
        if ((attributes & AttributeFlags.ClientAddress) != 0)
            tags.Add(SpanAttributes.ClientAddress, span.ClientAddress.ToString());
        if ((attributes & AttributeFlags.UrlPath) != 0)
            tags.Add(SpanAttributes.UrlPath, span.Path);
        if ((attributes & AttributeFlags.ProtocolVersion) != 0)
            tags.Add(SpanAttributes.ProtocolVersion, span.ProtocolVersion);
    }

    /// <summary>Disposes the activity source and the meter.</summary>
    public void Dispose()
    {
        _source.Dispose();
        _meter.Dispose();
    }
}
