using System.Globalization;
using System.Net;
using System.Net.Sockets;
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
    private const int ListenBacklog = 64;
    private const int MaxConnections = 64;
    private const int MaxRequestHeadBytes = 16 * 1024;
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan RequestHeadTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(30);

    private readonly PrometheusExporterOptions _options;
    private readonly ILogger _logger;
    private readonly HistogramAggregator[] _server;
    private readonly HistogramAggregator[] _client;
    private readonly Lock _lock = new();
    private readonly List<BeylaTracer> _tracers = [];
    private readonly Dictionary<Socket, Task> _connections = [];
    private Socket? _listenSocket;
    private CancellationTokenSource? _stopServing;
    private Task? _serving;
    private int _loggedScrapeFailure;

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
            if (_listenSocket is not null)
                return;
            (IPAddress address, string uriHost) = ResolveHost(_options.Host);
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(address, _options.Port));
                socket.Listen(ListenBacklog);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                throw new BeylaException($"cannot serve Prometheus metrics on {FormatAddress(address)}:{_options.Port}: {ex.Message}", ex);
            }
            var stop = new CancellationTokenSource();
            _listenSocket = socket;
            _stopServing = stop;
            Endpoint = new Uri($"http://{uriHost}:{_options.Port}/metrics");
            _serving = Task.Run(() => AcceptAsync(socket, stop.Token), CancellationToken.None);
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
                    total.SinkFailures + s.SinkFailures, total.RoutesOverflowed + s.RoutesOverflowed,
                    total.SpansDroppedForSlowSinks + s.SpansDroppedForSlowSinks);
            }
            text.Counter("beyla_spans_decoded", "Spans decoded from kernel records", total.SpansDecoded);
            text.Counter("beyla_events_lost", "Requests lost before the pipeline, for example with the kernel ring buffer full", total.EventsLostInSources);
            text.Counter("beyla_malformed_records", "Records that could not be decoded", total.MalformedRecords);
            text.Counter("beyla_consumer_spans_dropped", "Spans not delivered to span consumers that fell behind", total.SpansDroppedForSlowConsumers);
            text.Counter("beyla_sink_failures", "Exceptions thrown by span sinks", total.SinkFailures);
            text.Counter("beyla_sink_spans_dropped", "Spans not handed to span sinks that fell behind", total.SpansDroppedForSlowSinks);
            text.Counter("beyla_routes_overflowed", "Spans whose route was folded into /** by the per-service route cap", total.RoutesOverflowed);
            text.Counter("beyla_metric_series_overflowed", "Observations folded into an overflow series by the per-metric series cap",
                _server.Concat(_client).Sum(a => a.OverflowedObservations));
        }
        return text.ToString();
    }

    /// <summary>Stops serving: closes the listening socket and every open connection.</summary>
    /// <returns>A task that ends when nothing is served any more.</returns>
    public async ValueTask DisposeAsync()
    {
        Socket? listenSocket;
        CancellationTokenSource? stop;
        Task? serving;
        lock (_lock)
        {
            listenSocket = _listenSocket;
            stop = _stopServing;
            serving = _serving;
            _listenSocket = null;
            _stopServing = null;
            _serving = null;
        }
        if (listenSocket is null)
            return;
        await stop!.CancelAsync().ConfigureAwait(false);
        listenSocket.Dispose();
        if (serving is not null)
            await serving.ConfigureAwait(false);
        Task[] connections;
        lock (_connections)
        {
            foreach (Socket connection in _connections.Keys)
                connection.Dispose();
            connections = [.. _connections.Values];
        }
        await Task.WhenAll(connections).ConfigureAwait(false);
        stop.Dispose();
    }

    /// <summary>
    /// The listening address for <paramref name="host"/> and how the endpoint URL names it.
    /// The socket is bound to exactly that address, and requests are answered whatever their
    /// <c>Host</c> header says (a scraper may call the loopback address <c>localhost</c>).
    /// </summary>
    private static (IPAddress Address, string UriHost) ResolveHost(string host)
    {
        if (host is "*" or "+" or "0.0.0.0")
            return (IPAddress.Any, "127.0.0.1");
        string literal = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        if (IPAddress.TryParse(literal, out IPAddress? address))
            return (address, address.Equals(IPAddress.IPv6Any) ? "[::1]" : FormatAddress(address));
        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(host);
        }
        catch (SocketException ex)
        {
            throw new BeylaException($"cannot serve Prometheus metrics on {host}: the name does not resolve ({ex.Message})", ex);
        }
        address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new BeylaException($"cannot serve Prometheus metrics on {host}: the name has no address");
        return (address, host);
    }

    private static string FormatAddress(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();

    private async Task AcceptAsync(Socket listenSocket, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await listenSocket.AcceptAsync(stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                if (stop.IsCancellationRequested)
                    return;
                NoteScrapeFailure(ex);
                // For example out of file descriptors: do not spin.
                try
                {
                    await Task.Delay(100, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            lock (_connections)
            {
                if (_connections.Count >= MaxConnections || stop.IsCancellationRequested)
                {
                    connection.Dispose();
                    continue;
                }
                // Registered under the lock its own cleanup takes, so it is removed only after it was added.
                _connections[connection] = Task.Run(() => ServeConnectionAsync(connection, stop), CancellationToken.None);
            }
        }
    }

    /// <summary>Answers the requests of one connection (keep-alive, pipelining) until it closes, misbehaves or times out.</summary>
    private async Task ServeConnectionAsync(Socket connection, CancellationToken stop)
    {
        try
        {
            connection.NoDelay = true;
            using var stream = new NetworkStream(connection, ownsSocket: false);
            byte[] buffer = new byte[MaxRequestHeadBytes];
            int buffered = 0;
            while (true)
            {
                int headLength;
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop))
                {
                    // A connection may wait idle between scrapes; once a request starts, its head must arrive promptly.
                    timeout.CancelAfter(buffered == 0 ? IdleTimeout : RequestHeadTimeout);
                    while ((headLength = HeadLength(buffer.AsSpan(0, buffered))) < 0)
                    {
                        if (buffered == buffer.Length)
                        {
                            await RespondAsync(stream, 431, "Request Header Fields Too Large", close: true, stop).ConfigureAwait(false);
                            return;
                        }
                        int read = await stream.ReadAsync(buffer.AsMemory(buffered), timeout.Token).ConfigureAwait(false);
                        if (read == 0)
                            return;
                        if (buffered == 0)
                            timeout.CancelAfter(RequestHeadTimeout);
                        buffered += read;
                    }
                }
                bool keepAlive = await AnswerAsync(stream, Encoding.Latin1.GetString(buffer, 0, headLength), stop).ConfigureAwait(false);
                if (!keepAlive)
                    return;
                buffer.AsSpan(headLength, buffered - headLength).CopyTo(buffer);
                buffered -= headLength;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The scraper went away, stalled, or the exporter is stopping.
        }
        catch (Exception ex)
        {
            NoteScrapeFailure(ex);
        }
        finally
        {
            lock (_connections)
                _connections.Remove(connection);
            connection.Dispose();
        }
    }

    /// <summary>The length of the request head (through the blank line), or -1 if it has not all arrived.</summary>
    private static int HeadLength(ReadOnlySpan<byte> bytes)
    {
        int end = bytes.IndexOf("\r\n\r\n"u8);
        return end < 0 ? -1 : end + 4;
    }

    /// <summary>Answers one request head; returns whether the connection stays open.</summary>
    private async Task<bool> AnswerAsync(NetworkStream stream, string head, CancellationToken stop)
    {
        string[] lines = head[..^4].Split("\r\n");
        string[] requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || requestLine[0].Length == 0 || !requestLine[0].All(char.IsAsciiLetterUpper) || requestLine[1].Length == 0)
            return await RespondAsync(stream, 400, "Bad Request", close: true, stop).ConfigureAwait(false);
        string method = requestLine[0];
        string target = requestLine[1];
        string version = requestLine[2];
        if (version is not ("HTTP/1.1" or "HTTP/1.0"))
        {
            return version.StartsWith("HTTP/", StringComparison.Ordinal)
                ? await RespondAsync(stream, 505, "HTTP Version Not Supported", close: true, stop).ConfigureAwait(false)
                : await RespondAsync(stream, 400, "Bad Request", close: true, stop).ConfigureAwait(false);
        }

        string? accept = null;
        string? connectionHeader = null;
        bool hasHost = false;
        bool hasBody = false;
        for (int i = 1; i < lines.Length; i++)
        {
            string line = lines[i];
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || line[0] is ' ' or '\t' || line[colon - 1] is ' ' or '\t')
                return await RespondAsync(stream, 400, "Bad Request", close: true, stop).ConfigureAwait(false);
            string name = line[..colon];
            string value = line[(colon + 1)..].Trim(' ', '\t');
            if (name.Equals("Accept", StringComparison.OrdinalIgnoreCase))
                accept = accept is null ? value : accept + "," + value;
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
                connectionHeader = value;
            else if (name.Equals("Host", StringComparison.OrdinalIgnoreCase))
                hasHost = true;
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) || (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && value != "0"))
                hasBody = true;
        }
        if (version == "HTTP/1.1" && !hasHost)
            return await RespondAsync(stream, 400, "Bad Request", close: true, stop).ConfigureAwait(false);

        // A body is never read: answer, then close rather than parse it as the next request.
        bool close = hasBody || version == "HTTP/1.0"
            || (connectionHeader is not null && connectionHeader.Contains("close", StringComparison.OrdinalIgnoreCase));

        // origin-form /metrics?x=y, or absolute-form http://host:port/metrics
        string path = target;
        if (path.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || path.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
        {
            int slash = path.IndexOf('/', path.IndexOf("//", StringComparison.Ordinal) + 2);
            path = slash < 0 ? "/" : path[slash..];
        }
        int query = path.IndexOfAny(['?', '#']);
        if (query >= 0)
            path = path[..query];
        if (path is not ("/metrics" or "/metrics/"))
            return await RespondAsync(stream, 404, "Not Found", close, stop).ConfigureAwait(false);
        if (method is not ("GET" or "HEAD"))
            return await RespondAsync(stream, 405, "Method Not Allowed", close, stop, extraHeaders: "Allow: GET, HEAD\r\n").ConfigureAwait(false);

        bool openMetrics = accept?.Contains("application/openmetrics-text", StringComparison.OrdinalIgnoreCase) == true;
        byte[] body = Encoding.UTF8.GetBytes(WriteMetrics(openMetrics));
        string contentType = openMetrics ? PrometheusText.OpenMetricsContentType : PrometheusText.TextContentType;
        return await RespondAsync(stream, 200, "OK", close, stop, contentType, body, headOnly: method == "HEAD").ConfigureAwait(false);
    }

    /// <summary>Writes a response within <see cref="ResponseTimeout"/>; returns whether the connection stays open.</summary>
    private static async Task<bool> RespondAsync(NetworkStream stream, int status, string reason, bool close, CancellationToken stop,
        string contentType = "text/plain; charset=utf-8", byte[]? body = null, bool headOnly = false, string extraHeaders = "")
    {
        body ??= status == 200 ? [] : Encoding.ASCII.GetBytes(reason + "\n");
        string head = string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 {status} {reason}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n{extraHeaders}{(close ? "Connection: close\r\n" : "")}\r\n");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        // A scraper that stops reading holds only its own connection, and only this long.
        timeout.CancelAfter(ResponseTimeout);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token).ConfigureAwait(false);
        if (!headOnly)
            await stream.WriteAsync(body, timeout.Token).ConfigureAwait(false);
        return !close;
    }

    private void NoteScrapeFailure(Exception ex)
    {
        if (Interlocked.Exchange(ref _loggedScrapeFailure, 1) == 0)
            LogScrapeFailed(_logger, ex);
    }

    [LoggerMessage(300, LogLevel.Information, "Prometheus metrics served at {Endpoint}")]
    private static partial void LogServing(ILogger logger, Uri endpoint);

    [LoggerMessage(301, LogLevel.Debug, "Serving a metrics scrape failed; further failures are not logged.")]
    private static partial void LogScrapeFailed(ILogger logger, Exception exception);
}
