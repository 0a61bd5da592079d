using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Beyla.Bpf.Tests;

/// <summary>
/// The sample agent's exporters end to end: the demo traced from the kernel, exported by the
/// OpenTelemetry SDK over OTLP/HTTP (protobuf) to a receiver in this test and decoded here with
/// a minimal protobuf reader; and the Prometheus endpoint scraped while the demo runs.
/// </summary>
public sealed partial class OtlpExportTests(ITestOutputHelper output)
{
    private static readonly string[] DemoPaths = ["/hello", "/slow", "/missing", "/error"];

    [BpfFact]
    public async Task DemoSpansAndMetricsArriveOverOtlpHttpProtobuf()
    {
        using var receiver = new OtlpReceiver();
        long testStart = UnixNanosNow();
        var clock = Stopwatch.StartNew();
        using var agent = new AgentProcess("--demo", "--duration", "30", "--otlp", receiver.Url, "--quiet", "--route", "/{page}");
        await agent.WaitForReadyAsync();
        TimeSpan ready = clock.Elapsed;
        (int exitCode, List<string> stdout, List<string> stderr) = await agent.WaitForExitAsync();
        TimeSpan exited = clock.Elapsed;
        long testEnd = UnixNanosNow();
        foreach (string line in stderr)
            output.WriteLine("agent: " + line);

        Assert.Equal(0, exitCode);
        Assert.Empty(stdout); // --quiet: no per-span output
        int demoRequests = DemoRequests(stderr);
        int demoPort = DemoPort(stderr);
        (long summarySpans, long lost) = Summary(stderr);
        Assert.Equal(0, lost);
        Assert.True(demoRequests >= 20, $"the demo sent only {demoRequests} requests");

        List<OtlpRequest> requests = receiver.Requests;
        Assert.All(requests, r => Assert.Equal("application/x-protobuf", r.ContentType));
        List<ExportedSpan> spans = [.. requests.Where(r => r.Path == "/v1/traces").SelectMany(r => ExportedSpan.Decode(r.Body))];
        List<ExportedSpan> server = [.. spans.Where(s => s.Kind == 2)];
        List<ExportedSpan> client = [.. spans.Where(s => s.Kind == 3)];
        List<ExportedSpan> demoClient = [.. client.Where(s => s.Name.StartsWith("GET ", StringComparison.Ordinal))];
        output.WriteLine($"ready after {ready.TotalSeconds:F2} s, exited after {exited.TotalSeconds:F2} s; " +
            $"{requests.Count(r => r.Path == "/v1/traces")} trace and {requests.Count(r => r.Path == "/v1/metrics")} metric exports; " +
            $"demo requests {demoRequests}, agent spans {summarySpans}; exported spans {spans.Count}: server {server.Count}, client {client.Count} (GET {demoClient.Count})");

        Assert.NotEmpty(spans);
        Assert.All(spans, s => Assert.Equal("Beyla", s.Scope));
        // Every span the tracer handed out was exported, no more, no less.
        Assert.Equal(summarySpans, spans.Count);
        Assert.Equal(spans.Count, spans.Select(s => Convert.ToHexString(s.SpanId)).Distinct().Count());

        // Server spans: exactly the demo's requests, named after their route (--route /{page}).
        Assert.Equal(demoRequests, server.Count);
        Assert.Equal(demoRequests, demoClient.Count);
        foreach (ExportedSpan s in server.Concat(demoClient))
        {
            Assert.Equal("GET /{page}", s.Name);
            Assert.Equal("GET", s.Attributes["http.request.method"]);
            Assert.Equal("/{page}", s.Attributes["http.route"]);
            string path = Assert.IsType<string>(s.Attributes["url.path"]);
            Assert.Contains(path, DemoPaths);
            long status = Assert.IsType<long>(s.Attributes["http.response.status_code"]);
            Assert.Equal(path switch { "/missing" => 404L, "/error" => 500L, _ => 200L }, status);
            // OTLP status code 2 is ERROR: 5xx on a server, 4xx and 5xx on a client.
            Assert.Equal(status >= 500 || (s.Kind == 3 && status >= 400) ? 2 : 0, s.StatusCode);
            Assert.Equal("127.0.0.1", s.Attributes["server.address"]);
            Assert.Equal((long)demoPort, s.Attributes["server.port"]);
            Assert.False(s.Attributes.ContainsKey("client.address"));
            Assert.DoesNotContain(s.Attributes.Values, v => v is string text && text.Contains('?', StringComparison.Ordinal));
            // Real times: inside the run, and the end after the start.
            Assert.True(s.EndUnixNanos > s.StartUnixNanos, $"{s.Name}: end {s.EndUnixNanos} <= start {s.StartUnixNanos}");
            Assert.InRange(s.StartUnixNanos, testStart, testEnd);
            Assert.InRange(s.EndUnixNanos, testStart, testEnd);
            // The demo server waits 50 ms before answering /slow (Task.Delay: the timer may fire a little early).
            if (path == "/slow")
                Assert.True(s.EndUnixNanos - s.StartUnixNanos >= 40_000_000, $"/slow took {(s.EndUnixNanos - s.StartUnixNanos) / 1e6} ms");
            Assert.Equal(16, s.TraceId.Length);
            Assert.Equal(8, s.SpanId.Length);
        }
        // The demo traces its own process: any other client span is one of the agent's own OTLP exports.
        Assert.All(client.Where(s => !s.Name.StartsWith("GET ", StringComparison.Ordinal)), s => Assert.Contains(s.Name, (string[])["POST /v1/traces", "POST /v1/metrics"]));
        Assert.Equal(server.Count + client.Count, spans.Count);

        List<(string Scope, string Name)> metrics = [.. requests.Where(r => r.Path == "/v1/metrics").SelectMany(r => MetricNames(r.Body))];
        Assert.Contains(("Beyla", "http.server.request.duration"), metrics);
        Assert.Contains(("Beyla", "http.client.request.duration"), metrics);
    }

    [BpfFact]
    public async Task PrometheusEndpointServesTheDemosMetricsWhileItRuns()
    {
        int port = FreePort.Next();
        var clock = Stopwatch.StartNew();
        using var agent = new AgentProcess("--demo", "--duration", "30", "--prometheus", $"127.0.0.1:{port}", "--quiet");
        await agent.WaitForReadyAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string? scrape = null;
        string? contentType = null;
        int scrapes = 0;
        long best = 0;
        while (!agent.HasExited && clock.Elapsed < TimeSpan.FromSeconds(40))
        {
            try
            {
                using HttpResponseMessage response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
                string text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    scrapes++;
                    long count = ServerCount(text, DemoPaths);
                    if (count >= best)
                    {
                        best = count;
                        scrape = text;
                        contentType = response.Content.Headers.ContentType?.ToString();
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // The demo ended and the endpoint with it; the loop ends once the agent has exited.
            }
            await Task.Delay(200);
        }
        (int exitCode, _, List<string> stderr) = await agent.WaitForExitAsync();
        foreach (string line in stderr)
            output.WriteLine("agent: " + line);
        int demoRequests = DemoRequests(stderr);
        output.WriteLine($"{scrapes} scrapes in {clock.Elapsed.TotalSeconds:F2} s; most demo server requests seen in one scrape: {best} of {demoRequests}");

        Assert.Equal(0, exitCode);
        Assert.Contains(stderr, l => l.Contains($"prometheus: serving http://127.0.0.1:{port}/metrics", StringComparison.Ordinal));
        Assert.NotNull(scrape);
        Assert.StartsWith("text/plain", contentType, StringComparison.Ordinal);
        Assert.Contains("# TYPE http_server_request_duration_seconds histogram", scrape, StringComparison.Ordinal);
        Assert.Contains("http_server_request_duration_seconds_count{", scrape, StringComparison.Ordinal);
        Assert.Contains("http_client_request_duration_seconds_count{", scrape, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^http_server_request_duration_seconds_count\{[^}]*http_route=""/hello""[^}]*\} [1-9]", scrape);
        Assert.InRange(best, 1, demoRequests);
    }

    /// <summary>Sum of the server duration counts of the demo's routes in one scrape.</summary>
    private static long ServerCount(string scrape, string[] routes) =>
        CountLine().Matches(scrape)
            .Where(m => routes.Any(r => m.Groups["labels"].Value.Contains($"http_route=\"{r}\"", StringComparison.Ordinal)))
            .Sum(m => long.Parse(m.Groups["count"].Value, CultureInfo.InvariantCulture));

    [GeneratedRegex(@"(?m)^http_server_request_duration_seconds_count\{(?<labels>[^}]*)\} (?<count>\d+)$")]
    private static partial Regex CountLine();

    private static long UnixNanosNow() => (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;

    private static int DemoRequests(List<string> stderr)
    {
        Match m = stderr.Select(l => Regex.Match(l, @"^demo: the client sent (\d+) requests")).Single(m => m.Success);
        return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static int DemoPort(List<string> stderr)
    {
        Match m = stderr.Select(l => Regex.Match(l, @"^demo: an HTTP server on 127\.0\.0\.1:(\d+) ")).Single(m => m.Success);
        return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static (long Spans, long Lost) Summary(List<string> stderr)
    {
        Match m = Regex.Match(stderr.Last(), @"^summary: spans=(\d+) lost=(\d+)$");
        Assert.True(m.Success, $"last line is not the summary: {stderr.Last()}");
        return (long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>The scope and name of every metric of an ExportMetricsServiceRequest.</summary>
    private static IEnumerable<(string Scope, string Name)> MetricNames(byte[] body)
    {
        // ExportMetricsServiceRequest.resource_metrics(1) -> ResourceMetrics.scope_metrics(2)
        //   -> ScopeMetrics { scope(1): InstrumentationScope.name(1), metrics(2): Metric.name(1) }
        foreach (ProtoField resourceMetrics in Proto.Fields(body).Where(f => f.Number == 1))
        {
            foreach (ProtoField scopeMetrics in Proto.Fields(resourceMetrics.Bytes).Where(f => f.Number == 2))
            {
                string scope = Proto.Fields(scopeMetrics.Bytes).Where(f => f.Number == 1).Select(f => Proto.String(f.Bytes, 1)).FirstOrDefault() ?? "";
                foreach (ProtoField metric in Proto.Fields(scopeMetrics.Bytes).Where(f => f.Number == 2))
                    yield return (scope, Proto.String(metric.Bytes, 1));
            }
        }
    }

    /// <summary>One span of an ExportTraceServiceRequest.</summary>
    private sealed record ExportedSpan(
        string Scope, string Name, long Kind, long StartUnixNanos, long EndUnixNanos, byte[] TraceId, byte[] SpanId, long StatusCode,
        Dictionary<string, object?> Attributes)
    {
        public static IEnumerable<ExportedSpan> Decode(byte[] body)
        {
            // ExportTraceServiceRequest.resource_spans(1) -> ResourceSpans.scope_spans(2)
            //   -> ScopeSpans { scope(1): InstrumentationScope.name(1), spans(2): Span }
            foreach (ProtoField resourceSpans in Proto.Fields(body).Where(f => f.Number == 1))
            {
                foreach (ProtoField scopeSpans in Proto.Fields(resourceSpans.Bytes).Where(f => f.Number == 2))
                {
                    string scope = Proto.Fields(scopeSpans.Bytes).Where(f => f.Number == 1).Select(f => Proto.String(f.Bytes, 1)).FirstOrDefault() ?? "";
                    foreach (ProtoField span in Proto.Fields(scopeSpans.Bytes).Where(f => f.Number == 2))
                        yield return DecodeSpan(scope, span.Bytes);
                }
            }
        }

        private static ExportedSpan DecodeSpan(string scope, ReadOnlyMemory<byte> span)
        {
            // Span: trace_id(1) span_id(2) name(5) kind(6) start_time_unix_nano(7, fixed64) end_time_unix_nano(8, fixed64)
            //   attributes(9): KeyValue { key(1), value(2): AnyValue { string_value(1), bool_value(2), int_value(3), double_value(4) } }
            //   status(15): Status { message(2), code(3) }
            string name = "";
            long kind = 0, start = 0, end = 0, status = 0;
            byte[] traceId = [], spanId = [];
            var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (ProtoField f in Proto.Fields(span))
            {
                switch (f.Number)
                {
                    case 1: traceId = f.Bytes.ToArray(); break;
                    case 2: spanId = f.Bytes.ToArray(); break;
                    case 5: name = Encoding.UTF8.GetString(f.Bytes.Span); break;
                    case 6: kind = (long)f.Value; break;
                    case 7: start = (long)f.Value; break;
                    case 8: end = (long)f.Value; break;
                    case 9:
                        string key = Proto.String(f.Bytes, 1);
                        object? value = null;
                        foreach (ProtoField v in Proto.Fields(f.Bytes).Where(v => v.Number == 2))
                        {
                            foreach (ProtoField any in Proto.Fields(v.Bytes))
                            {
                                value = any.Number switch
                                {
                                    1 => Encoding.UTF8.GetString(any.Bytes.Span),
                                    2 => any.Value != 0,
                                    3 => (long)any.Value,
                                    4 => BitConverter.Int64BitsToDouble((long)any.Value),
                                    _ => value,
                                };
                            }
                        }
                        attributes[key] = value;
                        break;
                    case 15:
                        status = Proto.Fields(f.Bytes).Where(s => s.Number == 3).Select(s => (long)s.Value).FirstOrDefault();
                        break;
                }
            }
            Assert.Equal(ProtoWire.Fixed64, Proto.Fields(span).First(f => f.Number == 7).Wire);
            return new ExportedSpan(scope, name, kind, start, end, traceId, spanId, status, attributes);
        }
    }

    private enum ProtoWire
    {
        Varint = 0,
        Fixed64 = 1,
        LengthDelimited = 2,
        Fixed32 = 5,
    }

    /// <summary>One field of a protobuf message: its number, wire type, and value (varint, fixed64/32) or bytes (length-delimited).</summary>
    private readonly record struct ProtoField(int Number, ProtoWire Wire, ulong Value, ReadOnlyMemory<byte> Bytes);

    /// <summary>A minimal reader of the protobuf wire format.</summary>
    private static class Proto
    {
        public static List<ProtoField> Fields(ReadOnlyMemory<byte> message)
        {
            var fields = new List<ProtoField>();
            ReadOnlySpan<byte> bytes = message.Span;
            int position = 0;
            while (position < bytes.Length)
            {
                ulong tag = Varint(bytes, ref position);
                int number = (int)(tag >> 3);
                var wire = (ProtoWire)(tag & 7);
                Assert.True(number > 0, $"field number 0 at {position}");
                switch (wire)
                {
                    case ProtoWire.Varint:
                        fields.Add(new ProtoField(number, wire, Varint(bytes, ref position), default));
                        break;
                    case ProtoWire.Fixed64:
                        Assert.True(position + 8 <= bytes.Length, "truncated fixed64");
                        fields.Add(new ProtoField(number, wire, BinaryPrimitives.ReadUInt64LittleEndian(bytes[position..]), default));
                        position += 8;
                        break;
                    case ProtoWire.Fixed32:
                        Assert.True(position + 4 <= bytes.Length, "truncated fixed32");
                        fields.Add(new ProtoField(number, wire, BinaryPrimitives.ReadUInt32LittleEndian(bytes[position..]), default));
                        position += 4;
                        break;
                    case ProtoWire.LengthDelimited:
                        ulong length = Varint(bytes, ref position);
                        Assert.True(length <= (ulong)(bytes.Length - position), $"length {length} beyond the message at {position}");
                        fields.Add(new ProtoField(number, wire, length, message.Slice(position, (int)length)));
                        position += (int)length;
                        break;
                    default:
                        Assert.Fail($"unsupported wire type {(int)wire} for field {number}");
                        break;
                }
            }
            return fields;
        }

        /// <summary>The first string field <paramref name="number"/> of a message, or "".</summary>
        public static string String(ReadOnlyMemory<byte> message, int number) =>
            Fields(message).Where(f => f.Number == number && f.Wire == ProtoWire.LengthDelimited)
                .Select(f => Encoding.UTF8.GetString(f.Bytes.Span)).FirstOrDefault() ?? "";

        private static ulong Varint(ReadOnlySpan<byte> bytes, ref int position)
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                Assert.True(position < bytes.Length, "truncated varint");
                byte b = bytes[position++];
                value |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0)
                    return value;
            }
            Assert.Fail("varint longer than 10 bytes");
            return 0;
        }
    }

    private sealed record OtlpRequest(string Path, string? ContentType, byte[] Body);

    /// <summary>An OTLP/HTTP receiver on loopback: keeps every POST and answers 200 with an empty protobuf body.</summary>
    private sealed class OtlpReceiver : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly List<OtlpRequest> _requests = [];
        private readonly Task _serving;

        public OtlpReceiver()
        {
            for (int attempt = 0; ; attempt++)
            {
                int port = FreePort.Next();
                _listener.Prefixes.Clear();
                _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
                try
                {
                    _listener.Start();
                    Url = $"http://127.0.0.1:{port}";
                    break;
                }
                catch (HttpListenerException) when (attempt < 5)
                {
                }
            }
            _serving = Task.Run(ServeAsync);
        }

        public string Url { get; } = "";

        public List<OtlpRequest> Requests
        {
            get
            {
                lock (_requests)
                    return [.. _requests];
            }
        }

        private async Task ServeAsync()
        {
            while (true)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }
                try
                {
                    using var body = new MemoryStream();
                    await context.Request.InputStream.CopyToAsync(body);
                    if (context.Request.HttpMethod == "POST")
                    {
                        lock (_requests)
                            _requests.Add(new OtlpRequest(context.Request.Url!.AbsolutePath, context.Request.ContentType, body.ToArray()));
                    }
                    context.Response.StatusCode = context.Request.HttpMethod == "POST" ? 200 : 405;
                    context.Response.ContentType = "application/x-protobuf";
                    context.Response.ContentLength64 = 0;
                    context.Response.Close();
                }
                catch (Exception ex) when (ex is HttpListenerException or IOException)
                {
                }
            }
        }

        public void Dispose()
        {
            _listener.Close();
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
    }
}
