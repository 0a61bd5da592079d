using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text;
using Beyla.Exporters;
using Beyla.Implementation;
using Beyla.Tests.Support;

namespace Beyla.Tests;

/// <summary>
/// The OpenTelemetry sink as the host's SDK sees it: an <see cref="ActivityListener"/> on the
/// source <c>Beyla</c> and a <see cref="MeterListener"/> on the meter <c>Beyla</c>. Spans go
/// through a fake source, the decoder and the pipeline, as kernel records would. Listeners
/// are process-wide, so each test gives its spans a service name of its own and keeps only
/// what carries it.
/// </summary>
public sealed class OpenTelemetrySpanSinkTests
{
    private const string ParentTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    private const string ParentSpanId = "00f067aa0ba902b7";
    private static readonly TimeSpan OneTick = TimeSpan.FromTicks(1);

    private static readonly IPAddress ServerIp = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress ClientIp = IPAddress.Parse("10.0.0.2");

    /// <summary>A span as the kernel would report it; <paramref name="i"/> spreads start times and client ports.</summary>
    private static HttpSpan Span(HttpSpanKind kind, string method, string path, int status, int i, string? query = null, long durationNs = 0) => new()
    {
        Kind = kind,
        Method = method,
        Path = path,
        QueryString = query,
        StatusCode = status,
        StartTimestamp = TestSpans.BaseTimestamp + i * 10_000_000L,
        // Not a whole number of ticks, so that rounding shows.
        DurationNanoseconds = durationNs != 0 ? durationNs : 1_234_567 + i * 1_001L,
        RequestBytes = 100 + i,
        ResponseBytes = 1_000 + i,
        ProcessId = 4242,
        ThreadId = 4243,
        LocalAddress = kind == HttpSpanKind.Server ? ServerIp : ClientIp,
        LocalPort = kind == HttpSpanKind.Server ? 8080 : 40_000 + i,
        PeerAddress = kind == HttpSpanKind.Server ? ClientIp : ServerIp,
        PeerPort = kind == HttpSpanKind.Server ? 40_000 + i : 8080,
    };

    /// <summary>
    /// The kernel record of <paramref name="span"/>, with a request head written here: the
    /// request line, a Host header and <paramref name="headers"/>, as the probes capture it.
    /// </summary>
    private static byte[] Record(HttpSpan span, params string[] headers)
    {
        byte[] record = EventRecords.EncodeHttpSpan(span);
        string target = span.QueryString is null ? span.Path : span.Path + "?" + span.QueryString;
        var head = new StringBuilder($"{span.Method} {target} HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n");
        foreach (string header in headers)
            head.Append(header).Append("\r\n");
        head.Append("\r\n");
        Span<byte> dest = record.AsSpan(HttpEventLayout.Head, HttpEventLayout.HeadCapacity);
        dest.Clear();
        int length = Encoding.ASCII.GetBytes(head.ToString(), dest);
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(HttpEventLayout.HeadLength), (ushort)length);
        return record;
    }

    private static string TraceParent(string flags = "01") => $"traceparent: 00-{ParentTraceId}-{ParentSpanId}-{flags}";

    private static string NewServiceName() => "otel-test-" + Guid.NewGuid().ToString("N");

    private sealed record Run(IReadOnlyList<HttpSpan> Spans, IReadOnlyList<Activity> Activities, IReadOnlyList<Measurement> Measurements)
    {
        public List<Measurement> Of(string instrument) => Measurements.Where(m => m.Instrument == instrument).ToList();
    }

    private sealed record Measurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

    /// <summary>Records the activities and measurements of the spans of one service.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly string _service;
        private readonly ActivityListener _activities;
        private readonly MeterListener _meters = new();
        private readonly ConcurrentQueue<Activity> _stopped = new();
        private readonly ConcurrentQueue<Measurement> _measurements = new();

        public Recorder(string service)
        {
            _service = service;
            _activities = new ActivityListener
            {
                ShouldListenTo = s => s.Name == OpenTelemetrySpanSink.SourceName,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = a =>
                {
                    if (a.GetTagItem(SpanAttributes.ServiceName) as string == _service)
                        _stopped.Enqueue(a);
                },
            };
            ActivitySource.AddActivityListener(_activities);
            _meters.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == OpenTelemetrySpanSink.SourceName)
                    listener.EnableMeasurementEvents(instrument);
            };
            _meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            {
                var dictionary = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (KeyValuePair<string, object?> tag in tags)
                    dictionary.Add(tag.Key, tag.Value);
                if (dictionary.TryGetValue(SpanAttributes.ServiceName, out object? s) && s as string == _service)
                    _measurements.Enqueue(new Measurement(instrument.Name, value, dictionary));
            });
            _meters.Start();
        }

        public IReadOnlyList<Activity> Activities => [.. _stopped];

        public IReadOnlyList<Measurement> Measurements => [.. _measurements];

        public void Dispose()
        {
            _activities.Dispose();
            _meters.Dispose();
        }
    }

    /// <summary>Sends <paramref name="records"/> through a tracer with an OpenTelemetry sink and a collecting sink.</summary>
    private static async Task<Run> RunAsync(
        IReadOnlyList<byte[]> records, Action<OpenTelemetrySinkOptions>? sink = null, Action<BeylaOptions>? tracer = null)
    {
        string service = NewServiceName();
        using var recorder = new Recorder(service);
        var source = new FakeEventSource();
        var collected = new CollectingSink();
        BeylaBuilder builder = new BeylaBuilder()
            .WithEventSource(source)
            .AddSink(collected)
            .AddOpenTelemetry(sink)
            .Configure(o =>
            {
                o.ServiceNameResolver = _ => service;
                tracer?.Invoke(o);
            });
        await using (BeylaTracer t = builder.Build())
        {
            foreach (byte[] record in records)
                source.AddRecord(record);
            source.Complete();
            await t.Completion.WaitAsync(TestTimeouts.Default);
        }
        Run run = new(collected.Spans, recorder.Activities, recorder.Measurements);
        Assert.Equal(records.Count, run.Spans.Count);
        Assert.All(run.Spans, s => Assert.Equal(service, s.ServiceName));
        return run;
    }

    private static void AssertClose(DateTime expected, DateTime actual)
    {
        Assert.Equal(DateTimeKind.Utc, actual.Kind);
        Assert.True((expected - actual).Duration() <= OneTick, $"expected {expected:O}, got {actual:O}");
    }

    private static void AssertClose(TimeSpan expected, TimeSpan actual) =>
        Assert.True((expected - actual).Duration() <= OneTick, $"expected {expected.Ticks} ticks, got {actual.Ticks}");

    private static object? Tag(Activity activity, string name) => activity.GetTagItem(name);

    [Fact]
    public async Task EachSpanBecomesOneActivityWithItsKindNameTimesAndAttributes()
    {
        HttpSpan[] sent =
        [
            Span(HttpSpanKind.Server, "GET", "/users/42", 200, 0),
            Span(HttpSpanKind.Client, "GET", "/users/7", 200, 1),
            Span(HttpSpanKind.Server, "POST", "/orders", 201, 2),
            Span(HttpSpanKind.Client, "DELETE", "/users/9", 204, 3),
        ];
        Run run = await RunAsync([.. sent.Select(s => Record(s))], tracer: o => o.RoutePatterns.Add("/users/{id}"));

        Assert.Equal(sent.Length, run.Activities.Count);
        string[] routes = ["/users/{id}", "/users/{id}", "/orders", "/users/{id}"];
        for (int i = 0; i < sent.Length; i++)
        {
            HttpSpan span = run.Spans[i];
            Activity activity = run.Activities[i];
            Assert.Equal(routes[i], span.Route);
            Assert.Equal(OpenTelemetrySpanSink.SourceName, activity.Source.Name);
            Assert.Equal(sent[i].Kind == HttpSpanKind.Server ? ActivityKind.Server : ActivityKind.Client, activity.Kind);
            Assert.Equal($"{sent[i].Method} {routes[i]}", activity.DisplayName);
            Assert.True(activity.IsStopped);
            Assert.True(activity.Recorded);

            AssertClose(span.StartTime.UtcDateTime, activity.StartTimeUtc);
            AssertClose(span.Duration, activity.Duration);
            AssertClose(TimeSpan.FromTicks(sent[i].DurationNanoseconds / 100), activity.Duration);
            AssertClose(span.EndTime.UtcDateTime, activity.StartTimeUtc + activity.Duration);

            Assert.Equal(sent[i].Method, Tag(activity, SpanAttributes.RequestMethod));
            Assert.Equal(sent[i].StatusCode, Tag(activity, SpanAttributes.ResponseStatusCode));
            Assert.Equal(routes[i], Tag(activity, SpanAttributes.Route));
            Assert.Equal(sent[i].Path, Tag(activity, SpanAttributes.UrlPath));
            // The server is the local end of a server span and the peer of a client span.
            Assert.Equal("10.0.0.1", Tag(activity, SpanAttributes.ServerAddress));
            Assert.Equal(8080, Tag(activity, SpanAttributes.ServerPort));
            Assert.Equal("1.1", Tag(activity, SpanAttributes.ProtocolVersion));
            Assert.Null(Tag(activity, SpanAttributes.ClientAddress));
            Assert.Equal(ActivityStatusCode.Unset, activity.Status);
        }
        Assert.Equal(sent.Length, run.Of("http.server.request.duration").Count + run.Of("http.client.request.duration").Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UrlPathNeverCarriesTheQueryString(bool captureQueryString)
    {
        HttpSpan[] sent =
        [
            Span(HttpSpanKind.Server, "GET", "/search", 200, 0, query: "q=secret&token=abc"),
            Span(HttpSpanKind.Client, "GET", "/search", 200, 1, query: "q=secret"),
        ];
        Run run = await RunAsync([.. sent.Select(s => Record(s))], tracer: o => o.CaptureQueryString = captureQueryString);

        Assert.Equal(captureQueryString ? "q=secret&token=abc" : null, run.Spans[0].QueryString);
        Assert.Equal(sent.Length, run.Activities.Count);
        foreach (Activity activity in run.Activities)
        {
            Assert.Equal("/search", Tag(activity, SpanAttributes.UrlPath));
            Assert.Equal("GET /search", activity.DisplayName);
            Assert.DoesNotContain(activity.TagObjects, t => t.Value is string s && (s.Contains('?', StringComparison.Ordinal) || s.Contains("secret", StringComparison.Ordinal)));
        }
        Assert.DoesNotContain(run.Measurements, m => m.Tags.Values.Any(v => v is string s && s.Contains("secret", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ClientAddressIsOnActivitiesOnlyWhenIncluded()
    {
        HttpSpan[] sent = [Span(HttpSpanKind.Server, "GET", "/a", 200, 0), Span(HttpSpanKind.Client, "GET", "/b", 200, 1)];

        Run byDefault = await RunAsync([.. sent.Select(s => Record(s))]);
        Run included = await RunAsync([.. sent.Select(s => Record(s))], o => o.Attributes.Include(AttributeSelection.Traces, SpanAttributes.ClientAddress));

        Assert.Equal(2, byDefault.Activities.Count);
        Assert.All(byDefault.Activities, a => Assert.Null(Tag(a, SpanAttributes.ClientAddress)));
        Assert.Equal(2, included.Activities.Count);
        // The client is the peer of a server span and the local end of a client span.
        Assert.All(included.Activities, a => Assert.Equal("10.0.0.2", Tag(a, SpanAttributes.ClientAddress)));
        // Including it on traces does not put it on metrics.
        Assert.All(included.Measurements, m => Assert.False(m.Tags.ContainsKey(SpanAttributes.ClientAddress)));
    }

    [Fact]
    public async Task StatusIsErrorFor5xxOnServersAndFor4xxAnd5xxOnClients()
    {
        (HttpSpanKind Kind, int Status, ActivityStatusCode Expected)[] cases =
        [
            (HttpSpanKind.Server, 200, ActivityStatusCode.Unset),
            (HttpSpanKind.Server, 404, ActivityStatusCode.Unset),
            (HttpSpanKind.Server, 500, ActivityStatusCode.Error),
            (HttpSpanKind.Server, 503, ActivityStatusCode.Error),
            (HttpSpanKind.Client, 200, ActivityStatusCode.Unset),
            (HttpSpanKind.Client, 404, ActivityStatusCode.Error),
            (HttpSpanKind.Client, 500, ActivityStatusCode.Error),
            (HttpSpanKind.Server, 0, ActivityStatusCode.Error), // no response
        ];
        Run run = await RunAsync([.. cases.Select((c, i) => Record(Span(c.Kind, "GET", "/status", c.Status, i)))]);

        Assert.Equal(cases.Length, run.Activities.Count);
        for (int i = 0; i < cases.Length; i++)
        {
            Activity activity = run.Activities[i];
            Assert.Equal(cases[i].Expected, activity.Status);
            if (cases[i].Status == 0)
            {
                Assert.Equal("no response", activity.StatusDescription);
                Assert.Null(Tag(activity, SpanAttributes.ResponseStatusCode));
            }
            else
            {
                Assert.Equal(cases[i].Status, Tag(activity, SpanAttributes.ResponseStatusCode));
            }
        }
    }

    [Fact]
    public async Task ATraceparentInTheRequestHeadIsContinuedAndWithoutOneATraceStarts()
    {
        HttpSpan withParent = Span(HttpSpanKind.Server, "GET", "/continued", 200, 0);
        HttpSpan withoutParent = Span(HttpSpanKind.Server, "GET", "/fresh", 200, 1);
        HttpSpan clientWithParent = Span(HttpSpanKind.Client, "GET", "/continued", 200, 2);
        HttpSpan anotherWithoutParent = Span(HttpSpanKind.Client, "GET", "/fresh", 200, 3);
        Run run = await RunAsync(
        [
            Record(withParent, "Accept: */*", TraceParent(), "User-Agent: test"),
            Record(withoutParent, "Accept: */*"),
            Record(clientWithParent, TraceParent()),
            Record(anotherWithoutParent),
        ]);

        Assert.Equal(4, run.Activities.Count);
        foreach (Activity continued in new[] { run.Activities[0], run.Activities[2] })
        {
            Assert.Equal(ParentTraceId, continued.TraceId.ToHexString());
            Assert.Equal(ParentSpanId, continued.ParentSpanId.ToHexString());
            Assert.True(continued.HasRemoteParent);
            Assert.Null(continued.Parent);
            Assert.NotEqual(ParentSpanId, continued.SpanId.ToHexString());
            Assert.Equal(ActivityIdFormat.W3C, continued.IdFormat);
        }
        Assert.NotEqual(run.Activities[0].SpanId, run.Activities[2].SpanId);
        foreach (Activity fresh in new[] { run.Activities[1], run.Activities[3] })
        {
            Assert.Equal(default, fresh.ParentSpanId);
            Assert.NotEqual(default, fresh.TraceId);
            Assert.NotEqual(ParentTraceId, fresh.TraceId.ToHexString());
            Assert.False(fresh.HasRemoteParent);
            Assert.Null(fresh.Parent);
        }
        Assert.NotEqual(run.Activities[1].TraceId, run.Activities[3].TraceId);
        // The header is used for propagation only; it is never exported.
        Assert.All(run.Activities, a => Assert.DoesNotContain(a.TagObjects, t => t.Value is string s && s.Contains(ParentTraceId, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task TheAmbientActivityOfTheHostIsNeverTheParent()
    {
        using var ambient = new Activity("host-operation");
        ambient.SetIdFormat(ActivityIdFormat.W3C);
        ambient.Start();
        Assert.Same(ambient, Activity.Current);
        Run run;
        try
        {
            // Built and fed while the ambient activity is current: it flows into the pipeline's tasks.
            run = await RunAsync(
            [
                Record(Span(HttpSpanKind.Server, "GET", "/fresh", 200, 0)),
                Record(Span(HttpSpanKind.Server, "GET", "/continued", 200, 1), TraceParent()),
                Record(Span(HttpSpanKind.Client, "GET", "/fresh", 200, 2)),
            ]);
            Assert.Same(ambient, Activity.Current);
        }
        finally
        {
            ambient.Stop();
        }

        Assert.Equal(3, run.Activities.Count);
        Assert.All(run.Activities, a =>
        {
            Assert.Null(a.Parent);
            Assert.NotEqual(ambient.TraceId, a.TraceId);
            Assert.NotEqual(ambient.SpanId, a.ParentSpanId);
        });
        Assert.Equal(default, run.Activities[0].ParentSpanId);
        Assert.Equal(ParentSpanId, run.Activities[1].ParentSpanId.ToHexString());
        Assert.Equal(default, run.Activities[2].ParentSpanId);
    }

    [Fact]
    public void ExportOnAThreadWithAnAmbientActivityNeitherParentsToItNorLosesIt()
    {
        string service = NewServiceName();
        using var recorder = new Recorder(service);
        using var sink = new OpenTelemetrySpanSink();
        var start = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);
        HttpSpan[] spans =
        [
            new() { Method = "GET", Path = "/a", Route = "/a", ServiceName = service, StatusCode = 200, StartTime = start, DurationNanoseconds = 2_000_000, ProcessId = 1 },
            new()
            {
                Kind = HttpSpanKind.Client, Method = "PUT", Path = "/b", Route = "/b", ServiceName = service, StatusCode = 200,
                StartTime = start.AddSeconds(1), DurationNanoseconds = 3_000_000, ProcessId = 1,
                ParentContext = new ActivityContext(
                    ActivityTraceId.CreateFromString(ParentTraceId), ActivitySpanId.CreateFromString(ParentSpanId), ActivityTraceFlags.Recorded, isRemote: true),
            },
        ];

        using var ambient = new Activity("host-operation");
        ambient.SetIdFormat(ActivityIdFormat.W3C);
        ambient.Start();
        try
        {
            sink.Export(spans);
            Assert.Same(ambient, Activity.Current);
        }
        finally
        {
            ambient.Stop();
        }

        Assert.Equal(2, recorder.Activities.Count);
        Activity first = recorder.Activities[0];
        Assert.Null(first.Parent);
        Assert.Equal(default, first.ParentSpanId);
        Assert.NotEqual(ambient.TraceId, first.TraceId);
        Assert.Equal(start.UtcDateTime, first.StartTimeUtc);
        Assert.Equal(TimeSpan.FromMilliseconds(2), first.Duration);
        Activity second = recorder.Activities[1];
        Assert.Equal(ActivityKind.Client, second.Kind);
        Assert.Equal("PUT /b", second.DisplayName);
        Assert.Equal(ParentTraceId, second.TraceId.ToHexString());
        Assert.Equal(ParentSpanId, second.ParentSpanId.ToHexString());
        Assert.Equal(start.AddSeconds(1).UtcDateTime, second.StartTimeUtc);
        Assert.Equal(TimeSpan.FromMilliseconds(3), second.Duration);
    }

    [Fact]
    public void ASpanShorterThanATickKeepsItsShortDuration()
    {
        string service = NewServiceName();
        using var recorder = new Recorder(service);
        using var sink = new OpenTelemetrySpanSink();
        var start = new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

        sink.Export(new[] { new HttpSpan { Method = "GET", Path = "/", Route = "/", ServiceName = service, StatusCode = 200, StartTime = start, DurationNanoseconds = 40, ProcessId = 1 } });

        Activity activity = Assert.Single(recorder.Activities);
        Assert.Equal(start.UtcDateTime, activity.StartTimeUtc);
        // Activity.Stop() replaces a zero duration by "now - start": years here.
        Assert.True(activity.Duration <= OneTick, $"duration {activity.Duration}");
    }

    [Fact]
    public async Task EachSpanRecordsOneDurationInSecondsWithTheDefaultMetricAttributes()
    {
        var sent = new List<HttpSpan>();
        for (int i = 0; i < 40; i++)
        {
            HttpSpanKind kind = i % 4 == 3 ? HttpSpanKind.Client : HttpSpanKind.Server;
            int status = (i % 5) switch { 0 => 200, 1 => 404, 2 => 500, 3 => 201, _ => 0 };
            sent.Add(Span(kind, i % 3 == 0 ? "POST" : "GET", $"/items/{i}", status, i, query: i % 2 == 0 ? "secret=1" : null));
        }
        Run run = await RunAsync([.. sent.Select(s => Record(s))]);

        List<Measurement> server = run.Of("http.server.request.duration");
        List<Measurement> client = run.Of("http.client.request.duration");
        List<HttpSpan> serverSpans = run.Spans.Where(s => s.Kind == HttpSpanKind.Server).ToList();
        List<HttpSpan> clientSpans = run.Spans.Where(s => s.Kind == HttpSpanKind.Client).ToList();
        Assert.Equal(30, serverSpans.Count);
        Assert.Equal(10, clientSpans.Count);
        // Spans sent == activities == duration measurements.
        Assert.Equal(sent.Count, run.Activities.Count);
        Assert.Equal(serverSpans.Count, server.Count);
        Assert.Equal(clientSpans.Count, client.Count);

        for (int i = 0; i < server.Count; i++)
        {
            HttpSpan span = serverSpans[i];
            Measurement m = server[i];
            Assert.Equal(span.DurationNanoseconds / 1e9, m.Value, 12);
            var expected = new Dictionary<string, object?>
            {
                [SpanAttributes.RequestMethod] = span.Method,
                [SpanAttributes.Route] = "/items/*",
                [SpanAttributes.ServiceName] = span.ServiceName,
            };
            if (span.StatusCode != 0)
                expected[SpanAttributes.ResponseStatusCode] = span.StatusCode;
            Assert.Equal(expected.OrderBy(p => p.Key), m.Tags.OrderBy(p => p.Key));
        }
        for (int i = 0; i < client.Count; i++)
        {
            HttpSpan span = clientSpans[i];
            Measurement m = client[i];
            Assert.Equal(span.DurationNanoseconds / 1e9, m.Value, 12);
            var expected = new Dictionary<string, object?>
            {
                [SpanAttributes.RequestMethod] = span.Method,
                [SpanAttributes.ServiceName] = span.ServiceName,
                [SpanAttributes.ServerAddress] = "10.0.0.1",
                [SpanAttributes.ServerPort] = 8080,
            };
            if (span.StatusCode != 0)
                expected[SpanAttributes.ResponseStatusCode] = span.StatusCode;
            Assert.Equal(expected.OrderBy(p => p.Key), m.Tags.OrderBy(p => p.Key));
        }

        // One measurement per span on each size histogram too, with the span's byte counts.
        Assert.Equal(serverSpans.Select(s => (double)s.RequestBytes), run.Of("http.server.request.body.size").Select(m => m.Value));
        Assert.Equal(serverSpans.Select(s => (double)s.ResponseBytes), run.Of("http.server.response.body.size").Select(m => m.Value));
        Assert.Equal(clientSpans.Select(s => (double)s.RequestBytes), run.Of("http.client.request.body.size").Select(m => m.Value));
        Assert.Equal(clientSpans.Select(s => (double)s.ResponseBytes), run.Of("http.client.response.body.size").Select(m => m.Value));
        Assert.Equal(sent.Count * 3, run.Measurements.Count);
        Assert.All(run.Measurements, m =>
        {
            Assert.False(m.Tags.ContainsKey(SpanAttributes.UrlPath));
            Assert.False(m.Tags.ContainsKey(SpanAttributes.ClientAddress));
        });
    }

    [Fact]
    public async Task RecordTracesAndRecordMetricsSwitchEachOff()
    {
        HttpSpan[] sent = [Span(HttpSpanKind.Server, "GET", "/a", 200, 0), Span(HttpSpanKind.Client, "GET", "/b", 200, 1)];

        Run noTraces = await RunAsync([.. sent.Select(s => Record(s))], o => o.RecordTraces = false);
        Run noMetrics = await RunAsync([.. sent.Select(s => Record(s))], o => o.RecordMetrics = false);

        Assert.Empty(noTraces.Activities);
        Assert.Equal(sent.Length * 3, noTraces.Measurements.Count);
        Assert.Equal(sent.Length, noMetrics.Activities.Count);
        Assert.Empty(noMetrics.Measurements);
    }
}
