using System.Net;
using System.Text;
using Beyla.Exporters.Implementation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beyla.Exporters;

/// <summary>
/// Aggregates spans into the RED histograms (<c>http_server_request_duration_seconds</c> and
/// friends, named as Beyla and the OpenTelemetry semantic conventions name them) and serves
/// them, with the tracer's own health counters, at <c>http://HOST:PORT/metrics</c> in the
/// Prometheus text format, or in OpenMetrics when the scraper asks for it.
/// </summary>
/// <example><c>new BeylaBuilder().WithHttpProbes().AddPrometheus(o => o.Port = 9400).Build()</c></example>
public sealed partial class PrometheusExporter : ISpanSink, ITracerObserver, IAsyncDisposable
{
    private readonly PrometheusExporterOptions _options;
    private readonly ILogger _logger;
    private readonly HistogramAggregator[] _server;
    private readonly HistogramAggregator[] _client;
    private readonly Lock _lock = new();
    private readonly List<BeylaTracer> _tracers = [];
    private HttpListener? _listener;
    private Task? _serving;
    private bool _loggedScrapeFailure;

    /// <summary>Creates the exporter. Nothing listens until <see cref="Start"/> or a tracer starts.</summary>
    /// <param name="options">Settings; defaults when null.</param>
    /// <param name="logger">Where serving problems are logged.</param>
    public PrometheusExporter(PrometheusExporterOptions? options = null, ILogger? logger = null)
    {
        _options = options ?? new PrometheusExporterOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        double[] durations = [.. _options.DurationBuckets];
        double[] sizes = [.. _options.SizeBuckets];
        HistogramAggregator Create(HttpMetric metric) => new(metric, _options.Attributes.Resolve(metric.OtelName, metric.DefaultAttributes),
            metric.Value == HttpMetricValue.Duration ? durations : sizes, _options.MaxSeriesPerMetric);
        _server = [Create(HttpMetric.ServerDuration), Create(HttpMetric.ServerRequestSize), Create(HttpMetric.ServerResponseSize)];
        _client = [Create(HttpMetric.ClientDuration), Create(HttpMetric.ClientRequestSize), Create(HttpMetric.ClientResponseSize)];
    }

    /// <summary>The URL of the endpoint, once it is served; otherwise <see langword="null"/>.</summary>
    public Uri? Endpoint { get; private set; }

    /// <inheritdoc />
    public void Export(ReadOnlySpan<HttpSpan> spans)
    {
        lock (_lock)
        {
            foreach (HttpSpan span in spans)
            {
                foreach (HistogramAggregator aggregator in span.Kind == HttpSpanKind.Server ? _server : _client)
                    aggregator.Record(span);
            }
        }
    }

    /// <summary>Reports this tracer's counters too, and starts serving if <see cref="PrometheusExporterOptions.ServeHttp"/>.</summary>
    /// <param name="tracer">The tracer.</param>
    public void OnTracerStarted(BeylaTracer tracer)
    {
        ArgumentNullException.ThrowIfNull(tracer);
        lock (_lock)
            _tracers.Add(tracer);
        if (_options.ServeHttp)
            Start();
    }

    /// <summary>Starts serving <c>/metrics</c> on the configured host and port (once; later calls do nothing).</summary>
    /// <exception cref="BeylaException">The address cannot be listened on (for example the port is in use).</exception>
    public void Start()
    {
        lock (_lock)
        {
            if (_listener is not null)
                return;
            string host = _options.Host is "*" or "0.0.0.0" or "+" ? "*" : _options.Host.Contains(':') && !_options.Host.StartsWith('[') ? $"[{_options.Host}]" : _options.Host;
            string prefix = $"http://{host}:{_options.Port}/";
            var listener = new HttpListener();
            listener.Prefixes.Add(prefix);
            try
            {
                listener.Start();
            }
            catch (Exception ex) when (ex is HttpListenerException or System.Net.Sockets.SocketException)
            {
                listener.Close();
                throw new BeylaException($"cannot serve Prometheus metrics on {prefix}: {ex.Message}", ex);
            }
            _listener = listener;
            Endpoint = new Uri($"http://{(host == "*" ? "127.0.0.1" : host)}:{_options.Port}/metrics");
            _serving = Task.Run(() => ServeAsync(listener));
            LogServing(_logger, Endpoint);
        }
    }

    /// <summary>The current metrics in the Prometheus text format (or OpenMetrics), for hosts that serve them themselves.</summary>
    /// <param name="openMetrics">OpenMetrics 1.0 instead of the text format 0.0.4.</param>
    /// <returns>The exposition text.</returns>
    public string WriteMetrics(bool openMetrics = false)
    {
        var text = new PrometheusText(openMetrics);
        lock (_lock)
        {
            foreach (HistogramAggregator aggregator in _server.Concat(_client))
                text.Histogram(aggregator.Metric, aggregator);
            TracerStatistics total = default;
            foreach (BeylaTracer tracer in _tracers)
            {
                TracerStatistics s = tracer.Statistics;
                total = new TracerStatistics(total.SpansDecoded + s.SpansDecoded, total.EventsLostInSources + s.EventsLostInSources,
                    total.MalformedRecords + s.MalformedRecords, total.SpansDroppedForSlowConsumers + s.SpansDroppedForSlowConsumers,
                    total.SinkFailures + s.SinkFailures, total.RoutesOverflowed + s.RoutesOverflowed);
            }
            text.Counter("beyla_spans_decoded", "Spans decoded from kernel records", total.SpansDecoded);
            text.Counter("beyla_events_lost", "Requests lost before the pipeline, for example with the kernel ring buffer full", total.EventsLostInSources);
            text.Counter("beyla_malformed_records", "Records that could not be decoded", total.MalformedRecords);
            text.Counter("beyla_consumer_spans_dropped", "Spans not delivered to span consumers that fell behind", total.SpansDroppedForSlowConsumers);
            text.Counter("beyla_sink_failures", "Exceptions thrown by span sinks", total.SinkFailures);
            text.Counter("beyla_routes_overflowed", "Spans whose route was folded into /** by the per-service route cap", total.RoutesOverflowed);
            text.Counter("beyla_metric_series_overflowed", "Observations folded into an overflow series by the per-metric series cap",
                _server.Concat(_client).Sum(a => a.OverflowedObservations));
        }
        return text.ToString();
    }

    /// <summary>Stops serving.</summary>
    /// <returns>A task that ends when the listener has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        HttpListener? listener;
        Task? serving;
        lock (_lock)
        {
            listener = _listener;
            serving = _serving;
            _listener = null;
        }
        if (listener is null)
            return;
        listener.Close();
        if (serving is not null)
            await serving.ConfigureAwait(false);
    }

    private async Task ServeAsync(HttpListener listener)
    {
        while (true)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ObjectDisposedException or HttpListenerException or InvalidOperationException)
            {
                if (!listener.IsListening)
                    return;
                continue;
            }
            try
            {
                Respond(context);
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                if (!_loggedScrapeFailure)
                {
                    _loggedScrapeFailure = true;
                    LogScrapeFailed(_logger, ex);
                }
            }
            finally
            {
                try
                {
                    context.Response.Close();
                }
                catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException or InvalidOperationException)
                {
                    // the scraper went away
                }
            }
        }
    }

    private void Respond(HttpListenerContext context)
    {
        HttpListenerRequest request = context.Request;
        HttpListenerResponse response = context.Response;
        if (request.Url?.AbsolutePath is not ("/metrics" or "/metrics/"))
        {
            response.StatusCode = 404;
            return;
        }
        if (request.HttpMethod is not ("GET" or "HEAD"))
        {
            response.StatusCode = 405;
            response.AddHeader("Allow", "GET, HEAD");
            return;
        }
        bool openMetrics = request.Headers["Accept"]?.Contains("application/openmetrics-text", StringComparison.OrdinalIgnoreCase) == true;
        byte[] body = Encoding.UTF8.GetBytes(WriteMetrics(openMetrics));
        response.StatusCode = 200;
        response.ContentType = openMetrics ? PrometheusText.OpenMetricsContentType : PrometheusText.TextContentType;
        response.ContentLength64 = body.Length;
        if (request.HttpMethod == "GET")
            response.OutputStream.Write(body);
    }

    [LoggerMessage(300, LogLevel.Information, "Prometheus metrics served at {Endpoint}")]
    private static partial void LogServing(ILogger logger, Uri endpoint);

    [LoggerMessage(301, LogLevel.Debug, "A metrics scrape failed; further failures are not logged.")]
    private static partial void LogScrapeFailed(ILogger logger, Exception exception);
}
