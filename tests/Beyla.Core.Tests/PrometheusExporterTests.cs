using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Beyla.Exporters;
using Beyla.Tests.Support;

namespace Beyla.Tests;

/// <summary>
/// The Prometheus exporter fed by a fake source: the exposition is parsed and checked sample
/// by sample (counts per label set, cumulative buckets, sums, labels, the series cap, escaping,
/// health counters), checked by <c>promtool</c>, and served over loopback to well-behaved and
/// badly-behaved clients.
/// </summary>
public sealed class PrometheusExporterTests
{
    private const string ServerDuration = "http_server_request_duration_seconds";
    private const string ServerRequestSize = "http_server_request_body_size_bytes";
    private const string ServerResponseSize = "http_server_response_body_size_bytes";
    private const string ClientDuration = "http_client_request_duration_seconds";
    private const string Service = "svc";
    private const string WeirdRoute = "/a\"b\\c";

    private static readonly IPAddress s_serverAddress = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress s_clientAddress = IPAddress.Parse("10.0.0.2");
    private static readonly IPAddress s_upstream = IPAddress.Parse("10.0.0.9");
    private static readonly IPAddress s_otherUpstream = IPAddress.Parse("10.0.0.10");

    /// <summary>Durations (ns) of the GET /users/{id} 200 spans: on, below and above bucket bounds, and past the last one.</summary>
    private static readonly long[] s_userDurations = [0, 1_000_000, 5_000_000, 7_000_000, 60_000_000, 2_000_000_000, 20_000_000_000];

    /// <summary>Request sizes of the POST /orders 201 spans.</summary>
    private static readonly long[] s_orderRequestSizes = [0, 32, 33, 100, 9000];

    private static int s_spanNumber;

    private static HttpSpan Server(string method, string path, int status, long durationNs = 1_000_000, long requestBytes = 100, long responseBytes = 200) => new()
    {
        Kind = HttpSpanKind.Server,
        Method = method,
        Path = path,
        StatusCode = status,
        DurationNanoseconds = durationNs,
        RequestBytes = requestBytes,
        ResponseBytes = responseBytes,
        StartTimestamp = TestSpans.BaseTimestamp + Interlocked.Increment(ref s_spanNumber) * 1_000_000L,
        ProcessId = 4242,
        LocalAddress = s_serverAddress,
        LocalPort = 8080,
        PeerAddress = s_clientAddress,
        PeerPort = 40_000,
    };

    private static HttpSpan Client(string method, string path, int status, IPAddress server, int port, long durationNs = 2_000_000) => new()
    {
        Kind = HttpSpanKind.Client,
        Method = method,
        Path = path,
        StatusCode = status,
        DurationNanoseconds = durationNs,
        RequestBytes = 50,
        ResponseBytes = 500,
        StartTimestamp = TestSpans.BaseTimestamp + Interlocked.Increment(ref s_spanNumber) * 1_000_000L,
        ProcessId = 4343,
        LocalAddress = s_serverAddress,
        LocalPort = 50_000,
        PeerAddress = server,
        PeerPort = port,
    };

    /// <summary>
    /// The known data set: server spans of several methods, statuses, routes, durations and
    /// sizes (one without a response, one with a route that needs escaping) and client spans
    /// to two servers.
    /// </summary>
    private static List<HttpSpan> KnownSpans()
    {
        var spans = new List<HttpSpan>();
        for (int i = 0; i < s_userDurations.Length; i++)
            spans.Add(Server("GET", $"/users/{i + 1}", 200, s_userDurations[i]));
        spans.Add(Server("GET", "/users/98", 404, 2_000_000));
        spans.Add(Server("GET", "/users/99", 404, 3_000_000));
        foreach (long size in s_orderRequestSizes)
            spans.Add(Server("POST", "/orders", 201, 10_000_000, requestBytes: size, responseBytes: 2 * size));
        spans.Add(Server("DELETE", "/orders/9", 500, 300_000_000));
        spans.Add(Server("GET", "/nothing", 0, 1_000_000, responseBytes: 0));
        spans.Add(Server("GET", WeirdRoute, 200, 4_000_000));
        for (int i = 0; i < 4; i++)
            spans.Add(Client("GET", $"/api/{i}", 200, s_upstream, 8080, (i + 1) * 1_000_000L));
        spans.Add(Client("POST", "/api/x", 503, s_upstream, 8080));
        spans.Add(Client("POST", "/api/y", 503, s_upstream, 8080));
        spans.Add(Client("GET", "/", 200, s_otherUpstream, 443));
        return spans;
    }

    private static Dictionary<string, string> ServerLabels(string method, int status, string route)
    {
        var labels = new Dictionary<string, string> { ["http_request_method"] = method, ["http_route"] = route, ["service_name"] = Service };
        if (status != 0)
            labels["http_response_status_code"] = status.ToString(CultureInfo.InvariantCulture);
        return labels;
    }

    private static Dictionary<string, string> ClientLabels(string method, int status, IPAddress server, int port) => new()
    {
        ["http_request_method"] = method,
        ["http_response_status_code"] = status.ToString(CultureInfo.InvariantCulture),
        ["service_name"] = Service,
        ["server_address"] = server.ToString(),
        ["server_port"] = port.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The _count of each expected server label set for <see cref="KnownSpans"/>.</summary>
    private static List<(Dictionary<string, string> Labels, int Count)> ExpectedServerCounts() =>
    [
        (ServerLabels("GET", 200, "/users/{id}"), s_userDurations.Length),
        (ServerLabels("GET", 404, "/users/{id}"), 2),
        (ServerLabels("POST", 201, "/orders"), s_orderRequestSizes.Length),
        (ServerLabels("DELETE", 500, "/orders/*"), 1),
        (ServerLabels("GET", 0, "/nothing"), 1),
        (ServerLabels("GET", 200, WeirdRoute), 1),
    ];

    private static List<(Dictionary<string, string> Labels, int Count)> ExpectedClientCounts() =>
    [
        (ClientLabels("GET", 200, s_upstream, 8080), 4),
        (ClientLabels("POST", 503, s_upstream, 8080), 2),
        (ClientLabels("GET", 200, s_otherUpstream, 443), 1),
    ];

    /// <summary>Runs <paramref name="spans"/> through a tracer (fake source) into a non-serving exporter.</summary>
    private static async Task<PrometheusExporter> ExportAsync(
        IEnumerable<HttpSpan> spans, Action<PrometheusExporterOptions>? configure = null, Action<BeylaOptions>? tracerOptions = null)
    {
        var options = new PrometheusExporterOptions { ServeHttp = false };
        configure?.Invoke(options);
        var exporter = new PrometheusExporter(options);
        var source = new FakeEventSource();
        await using BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).AddSink(exporter).Configure(o =>
        {
            o.ServiceNameResolver = _ => Service;
            o.RoutePatterns.Add("/users/{id}");
            tracerOptions?.Invoke(o);
        }).Build();
        foreach (HttpSpan span in spans)
            source.Add(span);
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);
        return exporter;
    }

    [Fact]
    public async Task CountPerLabelSetEqualsTheSpansSent()
    {
        List<HttpSpan> spans = KnownSpans();
        await using PrometheusExporter exporter = await ExportAsync(spans);
        List<Sample> samples = Exposition.Parse(exporter.WriteMetrics());

        foreach (string metric in new[] { ServerDuration, ServerRequestSize, ServerResponseSize })
            AssertCounts(samples, metric, ExpectedServerCounts());
        foreach (string metric in new[] { ClientDuration, "http_client_request_body_size_bytes", "http_client_response_body_size_bytes" })
            AssertCounts(samples, metric, ExpectedClientCounts());
        Assert.Equal(spans.Count(s => s.Kind == HttpSpanKind.Server), samples.Where(s => s.Name == ServerDuration + "_count").Sum(s => s.Value));
        Assert.Equal(spans.Count(s => s.Kind == HttpSpanKind.Client), samples.Where(s => s.Name == ClientDuration + "_count").Sum(s => s.Value));
    }

    private static void AssertCounts(List<Sample> samples, string metric, List<(Dictionary<string, string> Labels, int Count)> expected)
    {
        List<Sample> counts = samples.Where(s => s.Name == metric + "_count").ToList();
        Assert.True(expected.Count == counts.Count,
            $"{metric}: expected {expected.Count} series, got {counts.Count}: {string.Join(" | ", counts.Select(c => c.LabelText))}");
        foreach ((Dictionary<string, string> labels, int count) in expected)
        {
            Assert.Equal(count, Exposition.Value(samples, metric + "_count", labels));
            Assert.Equal(count, Exposition.Value(samples, metric + "_bucket", new Dictionary<string, string>(labels) { ["le"] = "+Inf" }));
        }
    }

    [Fact]
    public async Task BucketsAreCumulativeAndSumsExactForKnownDurationsAndSizes()
    {
        await using PrometheusExporter exporter = await ExportAsync(KnownSpans());
        List<Sample> samples = Exposition.Parse(exporter.WriteMetrics());

        // Durations 0, 1 ms, 5 ms, 7 ms, 60 ms, 2 s, 20 s: bounds are inclusive (le), 20 s only in +Inf.
        Dictionary<string, string> users = ServerLabels("GET", 200, "/users/{id}");
        var expectedDurations = new (string Le, int Count)[]
        {
            ("0", 1), ("0.005", 3), ("0.01", 4), ("0.025", 4), ("0.05", 4), ("0.075", 5), ("0.1", 5), ("0.25", 5), ("0.5", 5),
            ("0.75", 5), ("1", 5), ("2.5", 6), ("5", 6), ("7.5", 6), ("10", 6), ("+Inf", 7),
        };
        AssertBuckets(samples, ServerDuration, users, expectedDurations);
        Assert.Equal(0.001 + 0.005 + 0.007 + 0.06 + 2 + 20, Exposition.Value(samples, ServerDuration + "_sum", users), 9);

        // Request sizes 0, 32, 33, 100, 9000 bytes.
        Dictionary<string, string> orders = ServerLabels("POST", 201, "/orders");
        var expectedSizes = new (string Le, int Count)[]
        {
            ("0", 1), ("32", 2), ("64", 3), ("128", 4), ("256", 4), ("512", 4), ("1024", 4), ("2048", 4), ("4096", 4), ("8192", 4), ("+Inf", 5),
        };
        AssertBuckets(samples, ServerRequestSize, orders, expectedSizes);
        Assert.Equal(9165, Exposition.Value(samples, ServerRequestSize + "_sum", orders));
        Assert.Equal(2 * 9165, Exposition.Value(samples, ServerResponseSize + "_sum", orders));
        Assert.Equal(5, Exposition.Value(samples, ServerDuration + "_bucket", new Dictionary<string, string>(orders) { ["le"] = "0.01" }));
        Assert.Equal(0, Exposition.Value(samples, ServerDuration + "_bucket", new Dictionary<string, string>(orders) { ["le"] = "0.005" }));

        // Client: 1, 2, 3, 4 ms.
        Dictionary<string, string> client = ClientLabels("GET", 200, s_upstream, 8080);
        Assert.Equal(0, Exposition.Value(samples, ClientDuration + "_bucket", new Dictionary<string, string>(client) { ["le"] = "0" }));
        Assert.Equal(4, Exposition.Value(samples, ClientDuration + "_bucket", new Dictionary<string, string>(client) { ["le"] = "0.005" }));
        Assert.Equal(0.010, Exposition.Value(samples, ClientDuration + "_sum", client), 12);

        // Every histogram series: buckets in increasing le order, cumulative, +Inf last and equal to _count.
        foreach (IGrouping<string, Sample> series in samples.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal))
            .GroupBy(s => s.Name[..^"_bucket".Length] + "{" + string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key).Select(l => l.Key + "=" + l.Value)) + "}"))
        {
            List<Sample> buckets = series.ToList();
            Assert.Equal("+Inf", buckets[^1].Labels["le"]);
            for (int i = 1; i < buckets.Count; i++)
            {
                Assert.True(Exposition.ParseValue(buckets[i].Labels["le"]) > Exposition.ParseValue(buckets[i - 1].Labels["le"]), series.Key);
                Assert.True(buckets[i].Value >= buckets[i - 1].Value, series.Key);
            }
            Sample first = buckets[0];
            Dictionary<string, string> labels = first.Labels.Where(l => l.Key != "le").ToDictionary();
            Assert.Equal(buckets[^1].Value, Exposition.Value(samples, first.Name[..^"_bucket".Length] + "_count", labels));
        }
    }

    private static void AssertBuckets(List<Sample> samples, string metric, Dictionary<string, string> labels, (string Le, int Count)[] expected)
    {
        List<Sample> buckets = samples.Where(s => s.Name == metric + "_bucket" && Exposition.SameLabels(s.Labels, labels, except: "le")).ToList();
        Assert.Equal(expected.Select(e => e.Le), buckets.Select(b => b.Labels["le"]));
        Assert.Equal(expected.Select(e => (double)e.Count), buckets.Select(b => b.Value));
        Assert.Equal(expected[^1].Count, Exposition.Value(samples, metric + "_count", labels));
    }

    [Fact]
    public async Task DefaultLabelsAreMethodStatusRouteAndServiceWithoutPathOrClientAddress()
    {
        await using PrometheusExporter exporter = await ExportAsync(KnownSpans());
        string text = exporter.WriteMetrics();
        List<Sample> samples = Exposition.Parse(text);

        foreach (Sample sample in samples.Where(s => s.Name.StartsWith("http_server_", StringComparison.Ordinal)))
        {
            var names = sample.Labels.Keys.Where(k => k != "le").ToHashSet();
            string[] expected = sample.Labels.ContainsKey("http_response_status_code")
                ? ["http_request_method", "http_response_status_code", "http_route", "service_name"]
                : ["http_request_method", "http_route", "service_name"];
            Assert.True(names.SetEquals(expected), $"{sample.Name}{{{sample.LabelText}}}");
        }
        foreach (Sample sample in samples.Where(s => s.Name.StartsWith("http_client_", StringComparison.Ordinal)))
        {
            var names = sample.Labels.Keys.Where(k => k != "le").ToHashSet();
            Assert.True(names.SetEquals(["http_request_method", "http_response_status_code", "service_name", "server_address", "server_port"]),
                $"{sample.Name}{{{sample.LabelText}}}");
        }
        Assert.DoesNotContain("url_path", text, StringComparison.Ordinal);
        Assert.DoesNotContain("client_address", text, StringComparison.Ordinal);
        Assert.DoesNotContain("/users/1", text, StringComparison.Ordinal);
        Assert.DoesNotContain(s_clientAddress.ToString(), text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PathAndClientAddressAppearOnlyWhereIncluded()
    {
        List<HttpSpan> spans = KnownSpans();
        await using PrometheusExporter exporter = await ExportAsync(spans,
            o => o.Attributes.Include("http.server.request.duration", SpanAttributes.UrlPath, SpanAttributes.ClientAddress));
        List<Sample> samples = Exposition.Parse(exporter.WriteMetrics());

        // One series per path now, each counted once (the 0-duration one too), with the client's address.
        for (int i = 0; i < s_userDurations.Length; i++)
        {
            var labels = new Dictionary<string, string>(ServerLabels("GET", 200, "/users/{id}"))
            {
                ["url_path"] = $"/users/{i + 1}",
                ["client_address"] = s_clientAddress.ToString(),
            };
            Assert.Equal(1, Exposition.Value(samples, ServerDuration + "_count", labels));
        }
        Assert.Equal(spans.Count(s => s.Kind == HttpSpanKind.Server), samples.Where(s => s.Name == ServerDuration + "_count").Sum(s => s.Value));
        Assert.All(samples.Where(s => s.Name.StartsWith(ServerDuration, StringComparison.Ordinal)),
            s => Assert.True(s.Labels.ContainsKey("url_path") && s.Labels.ContainsKey("client_address"), s.LabelText));
        // Other metrics keep their defaults.
        Assert.All(samples.Where(s => !s.Name.StartsWith(ServerDuration, StringComparison.Ordinal)),
            s => Assert.False(s.Labels.ContainsKey("url_path") || s.Labels.ContainsKey("client_address"), $"{s.Name}{{{s.LabelText}}}"));
        AssertCounts(samples, ServerRequestSize, ExpectedServerCounts());
    }

    [Fact]
    public async Task ExcludedAttributesAreGoneFromEveryMetric()
    {
        List<HttpSpan> spans = KnownSpans();
        await using PrometheusExporter exporter = await ExportAsync(spans, o => o.Attributes.Exclude(AttributeSelection.AllMetrics, SpanAttributes.ServiceName, SpanAttributes.Route));
        List<Sample> samples = Exposition.Parse(exporter.WriteMetrics());

        Assert.All(samples, s => Assert.False(s.Labels.ContainsKey("service_name") || s.Labels.ContainsKey("http_route"), $"{s.Name}{{{s.LabelText}}}"));
        // Without the route, GET 200 on /users/{id} and on the weird route share a series.
        Assert.Equal(s_userDurations.Length + 1, Exposition.Value(samples, ServerDuration + "_count",
            new Dictionary<string, string> { ["http_request_method"] = "GET", ["http_response_status_code"] = "200" }));
        Assert.Equal(spans.Count(s => s.Kind == HttpSpanKind.Server), samples.Where(s => s.Name == ServerDuration + "_count").Sum(s => s.Value));
    }

    [Fact]
    public async Task SeriesBeyondTheCapAreFoldedIntoTheOverflowSeriesAndCounted()
    {
        // Routes /r/a (1 span), /r/b (2), then /r/c (3), /r/d (4), /r/e (5) beyond a cap of 2, then /r/a again.
        var spans = new List<HttpSpan>();
        string[] routes = ["/r/a", "/r/b", "/r/c", "/r/d", "/r/e"];
        for (int r = 0; r < routes.Length; r++)
        {
            for (int n = 0; n <= r; n++)
                spans.Add(Server("GET", routes[r], 200, 20_000_000, requestBytes: 10));
        }
        spans.Add(Server("GET", "/r/a", 200, 20_000_000, requestBytes: 10));
        await using PrometheusExporter exporter = await ExportAsync(spans, o => o.MaxSeriesPerMetric = 2);
        string text = exporter.WriteMetrics();
        List<Sample> samples = Exposition.Parse(text);

        foreach (string metric in new[] { ServerDuration, ServerRequestSize, ServerResponseSize })
        {
            List<Sample> counts = samples.Where(s => s.Name == metric + "_count").ToList();
            Assert.Equal(3, counts.Count);
            Assert.Equal(2, Exposition.Value(samples, metric + "_count", ServerLabels("GET", 200, "/r/a")));
            Assert.Equal(2, Exposition.Value(samples, metric + "_count", ServerLabels("GET", 200, "/r/b")));
            var overflow = new Dictionary<string, string> { ["otel_metric_overflow"] = "true" };
            Assert.Equal(3 + 4 + 5, Exposition.Value(samples, metric + "_count", overflow));
            Assert.Equal(3 + 4 + 5, Exposition.Value(samples, metric + "_bucket", new Dictionary<string, string>(overflow) { ["le"] = "+Inf" }));
            Assert.Equal(spans.Count, counts.Sum(c => c.Value));
        }
        Assert.Equal(0, Exposition.Value(samples, ServerDuration + "_bucket", new Dictionary<string, string> { ["otel_metric_overflow"] = "true", ["le"] = "0.01" }));
        Assert.Equal(12, Exposition.Value(samples, ServerDuration + "_bucket", new Dictionary<string, string> { ["otel_metric_overflow"] = "true", ["le"] = "0.025" }));
        Assert.Equal(12 * 0.02, Exposition.Value(samples, ServerDuration + "_sum", new Dictionary<string, string> { ["otel_metric_overflow"] = "true" }), 9);
        Assert.DoesNotContain("/r/c", text, StringComparison.Ordinal);
        // Every observation folded, by each of the three server histograms.
        Assert.Equal(3 * 12, Exposition.Value(samples, "beyla_metric_series_overflowed_total", Exposition.NoLabels));
    }

    [Fact]
    public async Task LabelValuesAreEscaped()
    {
        const string weirdService = "we\"ird\\svc\nline2";
        await using PrometheusExporter exporter = await ExportAsync(
            [Server("GET", WeirdRoute, 200), Server("GET", "/plain", 200)],
            tracerOptions: o => o.ServiceNameResolver = _ => weirdService);
        string text = exporter.WriteMetrics();

        Assert.Contains("http_route=\"/a\\\"b\\\\c\"", text, StringComparison.Ordinal);
        Assert.Contains("service_name=\"we\\\"ird\\\\svc\\nline2\"", text, StringComparison.Ordinal);
        // No raw newline inside a sample: every line is a comment or a whole sample.
        Assert.All(text.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.True(line.StartsWith('#') || line.StartsWith("http_", StringComparison.Ordinal) || line.StartsWith("beyla_", StringComparison.Ordinal), line));
        List<Sample> samples = Exposition.Parse(text);
        var labels = new Dictionary<string, string> { ["http_request_method"] = "GET", ["http_response_status_code"] = "200", ["http_route"] = WeirdRoute, ["service_name"] = weirdService };
        Assert.Equal(1, Exposition.Value(samples, ServerDuration + "_count", labels));
        Assert.Equal(1, Exposition.Value(samples, ServerDuration + "_count", new Dictionary<string, string>(labels) { ["http_route"] = "/plain" }));

        string openMetrics = exporter.WriteMetrics(openMetrics: true);
        Assert.Contains("http_route=\"/a\\\"b\\\\c\"", openMetrics, StringComparison.Ordinal);
        Assert.Equal(1, Exposition.Value(Exposition.Parse(openMetrics), ServerDuration + "_count", labels));
    }

    [Fact]
    public async Task HealthCountersReportTheTracersStatistics()
    {
        var options = new PrometheusExporterOptions { ServeHttp = false };
        var exporter = new PrometheusExporter(options);
        var throwing = new ThrowingSink();
        var source = new FakeEventSource();
        await using (BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).AddSink(exporter).AddSink(throwing).Configure(o =>
        {
            o.ServiceNameResolver = _ => Service;
            o.UnmatchedRoutes = UnmatchedRouteMode.Path;
            o.MaxRoutesPerService = 2;
            o.ConsumerBufferCapacity = 2;
        }).Build())
        {
            _ = tracer.Spans(); // a consumer that never reads: all but 2 spans are dropped for it
            // Routes /p/a and /p/b are kept; /p/c (twice) and /p/d overflow the per-service route cap.
            string[] paths = ["/p/a", "/p/b", "/p/a", "/p/c", "/p/c", "/p/d", "/p/b"];
            foreach (string path in paths)
                source.Add(Server("GET", path, 200));
            source.AddRecord(new byte[] { 1, 2, 3 });
            source.AddRecord(new byte[EventRecords.HttpSpanRecordSize]);
            source.ReportLost(7);
            source.Complete();
            await tracer.Completion.WaitAsync(TestTimeouts.Default);

            TracerStatistics stats = tracer.Statistics;
            Assert.Equal(paths.Length, stats.SpansDecoded);
            Assert.Equal(2, stats.MalformedRecords);
            Assert.Equal(3, stats.RoutesOverflowed);
            Assert.Equal(paths.Length - 2, stats.SpansDroppedForSlowConsumers);

            foreach (bool openMetrics in new[] { false, true })
            {
                string text = exporter.WriteMetrics(openMetrics);
                List<Sample> samples = Exposition.Parse(text);
                Assert.Equal(paths.Length, Exposition.Value(samples, "beyla_spans_decoded_total", Exposition.NoLabels));
                Assert.Equal(2, Exposition.Value(samples, "beyla_malformed_records_total", Exposition.NoLabels));
                Assert.Equal(7, Exposition.Value(samples, "beyla_events_lost_total", Exposition.NoLabels));
                Assert.Equal(paths.Length - 2, Exposition.Value(samples, "beyla_consumer_spans_dropped_total", Exposition.NoLabels));
                Assert.Equal(throwing.Calls, Exposition.Value(samples, "beyla_sink_failures_total", Exposition.NoLabels));
                Assert.True(throwing.Calls > 0);
                Assert.Equal(0, Exposition.Value(samples, "beyla_sink_spans_dropped_total", Exposition.NoLabels));
                Assert.Equal(3, Exposition.Value(samples, "beyla_routes_overflowed_total", Exposition.NoLabels));
                Assert.Equal(0, Exposition.Value(samples, "beyla_metric_series_overflowed_total", Exposition.NoLabels));
                Assert.Equal(paths.Length, samples.Where(s => s.Name == ServerDuration + "_count").Sum(s => s.Value));
                Assert.Equal(3, Exposition.Value(samples, ServerDuration + "_count", ServerLabels("GET", 200, "/**")));
                string[] counters = ["beyla_spans_decoded", "beyla_events_lost", "beyla_malformed_records", "beyla_consumer_spans_dropped", "beyla_sink_failures", "beyla_sink_spans_dropped", "beyla_routes_overflowed", "beyla_metric_series_overflowed"];
                foreach (string counter in counters)
                {
                    // Text format: the family is named as its sample; OpenMetrics: without _total.
                    Assert.Contains($"# TYPE {counter}{(openMetrics ? "" : "_total")} counter\n", text, StringComparison.Ordinal);
                    Assert.Contains($"\n{counter}_total ", text, StringComparison.Ordinal);
                }
            }
        }
        await exporter.DisposeAsync();
    }

    [Fact]
    public async Task OpenMetricsHasTheSameSamplesTypedCountersUnitsAndEndsWithEof()
    {
        await using PrometheusExporter exporter = await ExportAsync(KnownSpans());
        string text = exporter.WriteMetrics();
        string openMetrics = exporter.WriteMetrics(openMetrics: true);

        Assert.EndsWith("\n# EOF\n", openMetrics, StringComparison.Ordinal);
        Assert.Equal(1, openMetrics.Split('\n').Count(l => l == "# EOF"));
        Assert.DoesNotContain("# EOF", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE beyla_spans_decoded counter\n", openMetrics, StringComparison.Ordinal);
        Assert.Contains($"\nbeyla_spans_decoded_total {KnownSpans().Count}\n", openMetrics, StringComparison.Ordinal);
        Assert.DoesNotContain("# TYPE beyla_spans_decoded_total", openMetrics, StringComparison.Ordinal);
        Assert.Contains($"# TYPE {ServerDuration} histogram\n# UNIT {ServerDuration} seconds\n", openMetrics, StringComparison.Ordinal);
        Assert.Contains($"# TYPE {ServerRequestSize} histogram\n# UNIT {ServerRequestSize} bytes\n", openMetrics, StringComparison.Ordinal);
        Assert.DoesNotContain("# UNIT", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE beyla_spans_decoded_total counter\n", text, StringComparison.Ordinal);

        // Same samples, same values, in both formats.
        Assert.Equal(Exposition.Parse(text).Select(s => s.ToString()), Exposition.Parse(openMetrics).Select(s => s.ToString()));
    }

    [PromtoolFact]
    public async Task PromtoolAcceptsTheTextFormat()
    {
        await using PrometheusExporter exporter = await ExportAsync(KnownSpans(),
            o => o.Attributes.Include(AttributeSelection.AllMetrics, SpanAttributes.UrlPath, SpanAttributes.ClientAddress),
            o => o.ServiceNameResolver = _ => "we\"ird\\svc\nline2");
        string text = exporter.WriteMetrics();

        (int exit, string output) = Promtool.Run(text, "check", "metrics");
        Assert.True(exit == 0, $"promtool check metrics exited {exit}:\n{output}");
        Assert.Equal("", output.Trim());

        // The check is not vacuous: an unescaped quote in a label value, or a sample with no value, fails it.
        (int badExit, _) = Promtool.Run(text.Replace("/a\\\"b\\\\c", "/a\"b", StringComparison.Ordinal), "check", "metrics");
        Assert.NotEqual(0, badExit);
        (int badExit2, _) = Promtool.Run(text + "beyla_spans_decoded_total\n", "check", "metrics");
        Assert.NotEqual(0, badExit2);
    }

    [PromtoolFact]
    public async Task PromtoolAcceptsOpenMetrics()
    {
        await using PrometheusExporter exporter = await ExportAsync(KnownSpans(),
            o => o.Attributes.Include(AttributeSelection.AllMetrics, SpanAttributes.UrlPath, SpanAttributes.ClientAddress),
            o => o.ServiceNameResolver = _ => "we\"ird\\svc\nline2");
        string openMetrics = exporter.WriteMetrics(openMetrics: true);

        // `promtool check metrics` lints with the text-format parser, which reads an OpenMetrics
        // counter family "x" (TYPE x counter, sample x_total) as two families: it may only complain
        // that each x_total has no help text. Anything else (a parse error, exit code 1) fails.
        (int exit, string output) = Promtool.Run(openMetrics, "check", "metrics");
        string[] counters = openMetrics.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal) && l.EndsWith(" counter", StringComparison.Ordinal))
            .Select(l => l.Split(' ')[2]).ToArray();
        Assert.NotEmpty(counters);
        string[] problems = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(exit is 0 or 3, $"promtool check metrics exited {exit}:\n{output}");
        Assert.All(problems, p => Assert.Contains(p, counters.Select(c => $"{c}_total no help text")));

        // Prometheus's own strict OpenMetrics parser (the backfill reader) must accept it whole:
        // it needs a timestamp on every sample, so one is appended; # EOF, escaping, TYPE/UNIT/HELP
        // and the _total and histogram suffixes are checked as written.
        string stamped = string.Join('\n', openMetrics.Split('\n').Select(l => l.Length == 0 || l.StartsWith('#') ? l : l + " 1700000000"));
        string dir = Directory.CreateTempSubdirectory("beyla-om-").FullName;
        try
        {
            string file = Path.Combine(dir, "metrics.om");
            File.WriteAllText(file, stamped);
            (int backfillExit, string backfillOutput) = Promtool.Run("", "tsdb", "create-blocks-from", "openmetrics", file, Path.Combine(dir, "blocks"));
            Assert.True(backfillExit == 0, $"promtool tsdb create-blocks-from openmetrics exited {backfillExit}:\n{backfillOutput}");

            // ... and that parser is strict: without # EOF it refuses the same text.
            File.WriteAllText(file, stamped.Replace("# EOF\n", "", StringComparison.Ordinal));
            (int noEofExit, _) = Promtool.Run("", "tsdb", "create-blocks-from", "openmetrics", file, Path.Combine(dir, "blocks2"));
            Assert.NotEqual(0, noEofExit);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // ---- the HTTP endpoint ----

    /// <summary>An exporter with the known spans recorded (through a tracer that has ended), serving on a free loopback port.</summary>
    private static async Task<PrometheusExporter> StartServingAsync()
    {
        PrometheusExporter exporter = await ExportAsync(KnownSpans(), o => o.Port = FreeTcpPort.Next());
        exporter.Start();
        return exporter;
    }

    private static HttpClient NewHttpClient() => new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TestTimeouts.Default };

    [Fact]
    public async Task ListensOnLoopbackOnlyByDefault()
    {
        Assert.Equal("127.0.0.1", new PrometheusExporterOptions().Host);
        await using PrometheusExporter exporter = await StartServingAsync();

        Assert.NotNull(exporter.Endpoint);
        Assert.Equal("127.0.0.1", exporter.Endpoint.Host);
        Assert.Equal("/metrics", exporter.Endpoint.AbsolutePath);
        int port = exporter.Endpoint.Port;
        using (var client = new TcpClient())
            await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TestTimeouts.Default);
        // Bound to 127.0.0.1 itself, not to every address: another loopback address is refused.
        using (var other = new TcpClient())
        {
            SocketException refused = await Assert.ThrowsAsync<SocketException>(() => other.ConnectAsync(IPAddress.Parse("127.0.0.2"), port).WaitAsync(TestTimeouts.Default));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }
        using HttpClient http = NewHttpClient();
        using HttpResponseMessage response = await http.GetAsync(exporter.Endpoint);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task GetMetricsServesTheTextFormat()
    {
        await using PrometheusExporter exporter = await StartServingAsync();
        using HttpClient http = NewHttpClient();

        using HttpResponseMessage response = await http.GetAsync(exporter.Endpoint);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string contentType = string.Join(",", response.Content.Headers.GetValues("Content-Type"));
        Assert.StartsWith("text/plain; version=0.0.4", contentType, StringComparison.Ordinal);
        string body = await response.Content.ReadAsStringAsync();
        Assert.Equal(exporter.WriteMetrics(), body);
        List<Sample> samples = Exposition.Parse(body);
        Assert.Equal(s_userDurations.Length, Exposition.Value(samples, ServerDuration + "_count", ServerLabels("GET", 200, "/users/{id}")));
        Assert.DoesNotContain("# EOF", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AcceptingOpenMetricsGetsOpenMetrics()
    {
        await using PrometheusExporter exporter = await StartServingAsync();
        using HttpClient http = NewHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, exporter.Endpoint);
        // What Prometheus 2.x sends.
        request.Headers.TryAddWithoutValidation("Accept",
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1");

        using HttpResponseMessage response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string contentType = string.Join(",", response.Content.Headers.GetValues("Content-Type"));
        Assert.StartsWith("application/openmetrics-text; version=1.0.0", contentType, StringComparison.Ordinal);
        string body = await response.Content.ReadAsStringAsync();
        Assert.EndsWith("# EOF\n", body, StringComparison.Ordinal);
        Assert.Contains("# TYPE beyla_spans_decoded counter\n", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OtherPathsAre404AndOtherMethods405()
    {
        await using PrometheusExporter exporter = await StartServingAsync();
        Uri endpoint = exporter.Endpoint!;
        using HttpClient http = NewHttpClient();

        using (HttpResponseMessage other = await http.GetAsync(new Uri(endpoint, "/other")))
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using (HttpResponseMessage root = await http.GetAsync(new Uri(endpoint, "/")))
            Assert.Equal(HttpStatusCode.NotFound, root.StatusCode);
        using (HttpResponseMessage post = await http.PostAsync(endpoint, new StringContent("x")))
        {
            Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
            Assert.Contains("GET", string.Join(",", post.Content.Headers.Allow), StringComparison.Ordinal);
        }
        using (var put = new HttpRequestMessage(HttpMethod.Put, endpoint))
        using (HttpResponseMessage response = await http.SendAsync(put))
            Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        using (var head = new HttpRequestMessage(HttpMethod.Head, endpoint))
        using (HttpResponseMessage response = await http.SendAsync(head))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Encoding.UTF8.GetByteCount(exporter.WriteMetrics()), response.Content.Headers.ContentLength);
        }
        // A query string does not change the path.
        using (HttpResponseMessage query = await http.GetAsync(new Uri(endpoint, "/metrics?name[]=x")))
            Assert.Equal(HttpStatusCode.OK, query.StatusCode);
    }

    [Fact]
    public async Task AnyHostHeaderIsAnsweredOnTheLoopbackAddress()
    {
        // Prometheus sends the target as written: "localhost:PORT" is as common as "127.0.0.1:PORT".
        await using PrometheusExporter exporter = await StartServingAsync();
        int port = exporter.Endpoint!.Port;

        foreach (string host in new[] { $"localhost:{port}", $"127.0.0.1:{port}", "metrics.example" })
        {
            RawResponse response = await RawHttp.ExchangeAsync(port, $"GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
            Assert.Equal(200, response.Status);
            Assert.Equal(exporter.WriteMetrics(), response.Body);
        }
    }

    [Fact]
    public async Task KeepAliveConnectionServesSeveralScrapes()
    {
        await using PrometheusExporter exporter = await StartServingAsync();
        int port = exporter.Endpoint!.Port;
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        NetworkStream stream = client.GetStream();

        // Two requests in one write (pipelined), then a third.
        string get = $"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(get + $"GET /nope HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"));
        var reader = new RawHttp.ResponseReader(stream);
        Assert.Equal(200, (await reader.ReadAsync()).Status);
        Assert.Equal(404, (await reader.ReadAsync()).Status);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(get));
        RawResponse third = await reader.ReadAsync();
        Assert.Equal(200, third.Status);
        Assert.Equal(exporter.WriteMetrics(), third.Body);
    }

    [Fact]
    public async Task MalformedAndAbandonedRequestsDoNotStopTheEndpoint()
    {
        await using PrometheusExporter exporter = await StartServingAsync();
        int port = exporter.Endpoint!.Port;
        var random = new Random(7);

        // Garbage, with and without a blank line: answered 400 or dropped, never served.
        byte[] garbage = new byte[4096];
        random.NextBytes(garbage);
        RawResponse? garbageResponse = await RawHttp.SendAsync(port, [.. garbage, .. "\r\n\r\n"u8], readResponse: true);
        Assert.True(garbageResponse is null || garbageResponse.Status == 400, $"garbage answered {garbageResponse?.Status}");
        await RawHttp.SendAsync(port, garbage, readResponse: false);
        // Not HTTP/1.x, no Host on 1.1, a header without a colon.
        Assert.Equal(505, (await RawHttp.SendAsync(port, "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n"u8.ToArray(), readResponse: true))?.Status);
        Assert.Equal(400, (await RawHttp.SendAsync(port, "GET /metrics HTTP/1.1\r\n\r\n"u8.ToArray(), readResponse: true))?.Status);
        Assert.Equal(400, (await RawHttp.SendAsync(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nno colon\r\n\r\n"u8.ToArray(), readResponse: true))?.Status);
        // A truncated request line, then the client goes away.
        await RawHttp.SendAsync(port, "GET /metr"u8.ToArray(), readResponse: false);
        // A 100 KB header: refused (431, or 400) when read to the end ...
        byte[] bigHeader = Encoding.ASCII.GetBytes($"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {new string('a', 100_000)}\r\n\r\n");
        RawResponse? big = await RawHttp.SendAsync(port, bigHeader, readResponse: true);
        Assert.True(big is null || big.Status is 400 or 431, $"100 KB header answered {big?.Status}");
        // ... and the same, closed early without reading anything.
        await RawHttp.SendAsync(port, bigHeader, readResponse: false);
        await RawHttp.SendAsync(port, bigHeader.AsSpan(0, 50_000).ToArray(), readResponse: false);
        // Connect and close at once.
        using (var quick = new TcpClient())
            await quick.ConnectAsync(IPAddress.Loopback, port);
        // A request asked for, then the connection closed before the response is read.
        await RawHttp.SendAsync(port, Encoding.ASCII.GetBytes($"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"), readResponse: false);

        // A client that stays connected with half a request does not hold up the others.
        using var idle = new TcpClient();
        await idle.ConnectAsync(IPAddress.Loopback, port);
        await idle.GetStream().WriteAsync("GET /metrics HTTP/1.1\r\nHost: 127"u8.ToArray());

        using HttpClient http = NewHttpClient();
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage response = await http.GetAsync(exporter.Endpoint);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(exporter.WriteMetrics(), await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task AScraperThatStopsReadingDoesNotBlockOtherScrapes()
    {
        // Enough series for a response of tens of megabytes: far more than the socket buffers hold.
        var options = new PrometheusExporterOptions { Port = FreeTcpPort.Next(), MaxSeriesPerMetric = 10_000 };
        await using var exporter = new PrometheusExporter(options);
        exporter.Export(Enumerable.Range(0, 3000).Select(i => new HttpSpan
        {
            Method = "GET", Path = $"/r/{i}", Route = $"/r/{i}", ServiceName = Service, StatusCode = 200, DurationNanoseconds = 1_000_000,
        }).ToArray());
        exporter.Start();
        int port = exporter.Endpoint!.Port;
        Assert.True(exporter.WriteMetrics().Length > 16 * 1024 * 1024);

        using var stalled = new TcpClient { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(IPAddress.Loopback, port);
        await stalled.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"));
        await Task.Delay(500); // the response is now stuck in the stalled connection's buffers

        var stopwatch = Stopwatch.StartNew();
        RawResponse response = await RawHttp.ExchangeAsync(port, $"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        Assert.Equal(200, response.Status);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"a scrape took {stopwatch.Elapsed} behind a stalled one");
    }

    [Fact]
    public async Task AddPrometheusServesTheTracersSpansUntilTheTracerIsDisposed()
    {
        int port = FreeTcpPort.Next();
        var source = new FakeEventSource();
        List<HttpSpan> spans = KnownSpans();
        var endpoint = new Uri($"http://127.0.0.1:{port}/metrics");
        using HttpClient http = NewHttpClient();
        await using (BeylaTracer tracer = new BeylaBuilder().WithEventSource(source)
            .Configure(o =>
            {
                o.ServiceNameResolver = _ => Service;
                o.RoutePatterns.Add("/users/{id}");
            })
            .AddPrometheus(o => o.Port = port).Build())
        {
            foreach (HttpSpan span in spans)
                source.Add(span);
            source.Complete();
            await tracer.Completion.WaitAsync(TestTimeouts.Default);

            string body = await http.GetStringAsync(endpoint);
            List<Sample> samples = Exposition.Parse(body);
            AssertCounts(samples, ServerDuration, ExpectedServerCounts());
            AssertCounts(samples, ClientDuration, ExpectedClientCounts());
            Assert.Equal(spans.Count, Exposition.Value(samples, "beyla_spans_decoded_total", Exposition.NoLabels));
        }

        // The tracer owned the exporter: the port is closed with it.
        using var client = new TcpClient();
        SocketException refused = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TestTimeouts.Default));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task StartingOnAPortInUseThrowsBeylaException()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        await using var exporter = new PrometheusExporter(new PrometheusExporterOptions { Port = port });

        BeylaException ex = Assert.Throws<BeylaException>(exporter.Start);
        Assert.Contains(port.ToString(CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
        Assert.Null(exporter.Endpoint);
    }

    [Fact]
    public async Task StopsAndStartsAgainOnTheSamePort()
    {
        PrometheusExporter first = await StartServingAsync();
        int port = first.Endpoint!.Port;
        using HttpClient http = NewHttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(first.Endpoint)).StatusCode);
        await first.DisposeAsync();

        await using var second = new PrometheusExporter(new PrometheusExporterOptions { Port = port });
        second.Start();
        using HttpClient fresh = NewHttpClient();
        Assert.Equal(HttpStatusCode.OK, (await fresh.GetAsync(second.Endpoint)).StatusCode);
    }
}

/// <summary>A free TCP port on loopback: bind port 0, read the port, let it go.</summary>
internal static class FreeTcpPort
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>One sample line of an exposition, labels unescaped.</summary>
internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value, string LabelText)
{
    public override string ToString() =>
        $"{Name}{{{string.Join(",", Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"))}}} {Value.ToString("R", CultureInfo.InvariantCulture)}";
}

/// <summary>A strict reader of the Prometheus text format and OpenMetrics sample lines.</summary>
internal static class Exposition
{
    public static readonly IReadOnlyDictionary<string, string> NoLabels = new Dictionary<string, string>();

    public static List<Sample> Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            int i = 0;
            while (i < line.Length && line[i] != '{' && line[i] != ' ')
                i++;
            string name = line[..i];
            Assert.Matches("^[a-zA-Z_:][a-zA-Z0-9_:]*$", name);
            var labels = new Dictionary<string, string>();
            int labelStart = i;
            if (i < line.Length && line[i] == '{')
            {
                i++;
                while (line[i] != '}')
                {
                    int eq = line.IndexOf('=', i);
                    string label = line[i..eq];
                    Assert.Matches("^[a-zA-Z_][a-zA-Z0-9_]*$", label);
                    Assert.Equal('"', line[eq + 1]);
                    var value = new StringBuilder();
                    i = eq + 2;
                    while (line[i] != '"')
                    {
                        if (line[i] == '\\')
                        {
                            i++;
                            value.Append(line[i] switch
                            {
                                '\\' => '\\',
                                '"' => '"',
                                'n' => '\n',
                                _ => throw new FormatException($"bad escape \\{line[i]} in: {line}"),
                            });
                        }
                        else
                        {
                            value.Append(line[i]);
                        }
                        i++;
                    }
                    i++;
                    Assert.True(labels.TryAdd(label, value.ToString()), $"label {label} twice in: {line}");
                    if (line[i] == ',')
                        i++;
                    else
                        Assert.Equal('}', line[i]);
                }
                i++;
            }
            string labelText = line[labelStart..i];
            Assert.Equal(' ', line[i]);
            string[] rest = line[(i + 1)..].Split(' ');
            Assert.Single(rest);
            samples.Add(new Sample(name, labels, ParseValue(rest[0]), labelText));
        }
        return samples;
    }

    public static double ParseValue(string value) => value switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    public static bool SameLabels(IReadOnlyDictionary<string, string> actual, IReadOnlyDictionary<string, string> expected, string? except = null)
    {
        var a = actual.Where(l => l.Key != except).ToDictionary();
        return a.Count == expected.Count && expected.All(e => a.TryGetValue(e.Key, out string? v) && v == e.Value);
    }

    /// <summary>The value of the one sample named <paramref name="name"/> with exactly <paramref name="labels"/>.</summary>
    public static double Value(List<Sample> samples, string name, IReadOnlyDictionary<string, string> labels)
    {
        List<Sample> matches = samples.Where(s => s.Name == name && SameLabels(s.Labels, labels)).ToList();
        Assert.True(matches.Count == 1,
            $"{matches.Count} samples {name}{{{string.Join(",", labels.Select(l => $"{l.Key}={l.Value}"))}}}; that name has: "
            + string.Join(" | ", samples.Where(s => s.Name == name).Select(s => s.LabelText).Take(20)));
        return matches[0].Value;
    }
}

/// <summary>A test that runs <c>promtool</c>: skipped when it is missing, unless BEYLA_REQUIRE_BPF=1 (CI), where it fails instead.</summary>
public sealed class PromtoolFactAttribute : FactAttribute
{
    public PromtoolFactAttribute()
    {
        if (Promtool.Path is null && Environment.GetEnvironmentVariable("BEYLA_REQUIRE_BPF") != "1")
            Skip = "promtool is not installed (scripts/setup.sh installs the prometheus package; BEYLA_REQUIRE_BPF=1 fails instead of skipping)";
    }
}

internal sealed record RawResponse(int Status, Dictionary<string, string> Headers, string Body);

/// <summary>HTTP/1.1 over a bare socket, for requests HttpClient will not send.</summary>
internal static class RawHttp
{
    /// <summary>Sends <paramref name="request"/> on a new connection and reads one response.</summary>
    public static async Task<RawResponse> ExchangeAsync(int port, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TestTimeouts.Default);
        NetworkStream stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        return await new ResponseReader(stream).ReadAsync();
    }

    /// <summary>
    /// Sends <paramref name="bytes"/> on a new connection (the server may reset it part way), then
    /// reads a response if asked (null when the server closed without one), and closes.
    /// </summary>
    public static async Task<RawResponse?> SendAsync(int port, byte[] bytes, bool readResponse)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TestTimeouts.Default);
        NetworkStream stream = client.GetStream();
        try
        {
            await stream.WriteAsync(bytes).AsTask().WaitAsync(TestTimeouts.Default);
        }
        catch (IOException)
        {
            // The server answered and closed before reading everything.
        }
        if (!readResponse)
            return null;
        try
        {
            return await new ResponseReader(stream).ReadAsync();
        }
        catch (Exception ex) when (ex is IOException or EndOfStreamException)
        {
            return null;
        }
    }

    /// <summary>Reads Content-Length delimited responses one after another from one connection.</summary>
    internal sealed class ResponseReader(NetworkStream stream)
    {
        private readonly List<byte> _buffer = [];

        public async Task<RawResponse> ReadAsync()
        {
            int headEnd;
            while ((headEnd = IndexOfHeadEnd()) < 0)
                await FillAsync();
            string head = Encoding.ASCII.GetString(_buffer.GetRange(0, headEnd).ToArray());
            _buffer.RemoveRange(0, headEnd + 4);
            string[] lines = head.Split("\r\n");
            int status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (string line in lines.Skip(1))
                headers[line[..line.IndexOf(':', StringComparison.Ordinal)]] = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
            int length = int.Parse(headers["Content-Length"], CultureInfo.InvariantCulture);
            while (_buffer.Count < length)
                await FillAsync();
            string body = Encoding.UTF8.GetString(_buffer.GetRange(0, length).ToArray());
            _buffer.RemoveRange(0, length);
            return new RawResponse(status, headers, body);
        }

        private int IndexOfHeadEnd()
        {
            for (int i = 0; i + 3 < _buffer.Count; i++)
            {
                if (_buffer[i] == '\r' && _buffer[i + 1] == '\n' && _buffer[i + 2] == '\r' && _buffer[i + 3] == '\n')
                    return i;
            }
            return -1;
        }

        private async Task FillAsync()
        {
            byte[] chunk = new byte[64 * 1024];
            int read = await stream.ReadAsync(chunk).AsTask().WaitAsync(TestTimeouts.Default);
            if (read == 0)
                throw new EndOfStreamException("the server closed the connection");
            _buffer.AddRange(chunk.AsSpan(0, read));
        }
    }
}
