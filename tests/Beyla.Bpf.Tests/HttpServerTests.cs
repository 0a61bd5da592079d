using System.Diagnostics;
using System.Globalization;
using System.Net;
using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>
/// The socket probe set against a real server: every request becomes exactly one server span
/// with the right method, path, status, sizes, pid, addresses, and a duration inside what the
/// client measured. Each subclass starts one kind of server.
/// </summary>
public abstract class HttpServerTests
{
    /// <summary>Starts the server on <paramref name="port"/>.</summary>
    private protected abstract ServerProcess StartServer(int port);

    /// <summary>Selects the server's processes for tracing.</summary>
    private protected abstract void Select(ProcessSelector selector, ServerProcess server);

    /// <summary>Process ids that may serve requests (the server, or its workers).</summary>
    private protected virtual IReadOnlySet<int> ServingPids(ServerProcess server) => new HashSet<int> { server.Pid };

    /// <summary>Whether the server reads a whole request body before it answers (nginx's <c>return</c> does not).</summary>
    private protected virtual bool ReadsBodyBeforeAnswering => true;

    /// <summary>Requests each concurrent client sends in the load test (Python answers slowly: headers and body go out in two writes).</summary>
    private protected virtual int LoadRequestsPerClient => 300;

    private static readonly (string Path, int Status)[] s_mix =
    [
        ("/hello/1", 200), ("/hello/2?secret=hunter2", 200), ("/missing/3", 404),
        ("/status/500", 500), ("/hello/5", 200), ("/status/404", 404),
    ];

    [BpfFact]
    public async Task CurlRequestsOnOneConnectionAreEachOneSpan()
    {
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;

        string[] urls = s_mix.Select(m => $"http://127.0.0.1:{server.Port}{m.Path}").ToArray();
        long before = Stopwatch.GetTimestamp();
        // One curl, one keep-alive connection; -o applies to one URL, so give it per URL.
        string output = Run("curl", ["-s", "-w", "%{http_code} %{size_request} %{size_header} %{size_download} %{local_port}\\n", .. urls.SelectMany(u => new[] { "-o", "/dev/null", u })]);
        long after = Stopwatch.GetTimestamp();
        string[][] results = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToArray();
        Assert.Equal(s_mix.Length, results.Length);

        List<HttpSpan> spans = await traced.SpansAsync(s_mix.Length);
        for (int i = 0; i < s_mix.Length; i++)
        {
            HttpSpan span = spans[i];
            string[] r = results[i];
            Assert.Equal(HttpSpanKind.Server, span.Kind);
            Assert.Equal("GET", span.Method);
            Assert.Equal(s_mix[i].Path.Split('?')[0], span.Path);
            Assert.Null(span.QueryString);
            Assert.Equal(s_mix[i].Status, span.StatusCode);
            Assert.Equal(int.Parse(r[0], CultureInfo.InvariantCulture), span.StatusCode);
            Assert.Equal(long.Parse(r[1], CultureInfo.InvariantCulture), span.RequestBytes);
            Assert.Equal(long.Parse(r[2], CultureInfo.InvariantCulture) + long.Parse(r[3], CultureInfo.InvariantCulture), span.ResponseBytes);
            Assert.Equal(IPAddress.Loopback, span.LocalAddress);
            Assert.Equal(server.Port, span.LocalPort);
            Assert.Equal(IPAddress.Loopback, span.PeerAddress);
            Assert.Equal(int.Parse(r[4], CultureInfo.InvariantCulture), span.PeerPort);
            Assert.Equal("1.1", span.ProtocolVersion);
            Assert.Equal(SpanEndReason.ResponseComplete, span.EndReason);
            Assert.True(span.ThreadId > 0);
            AssertWithin(span, before, after);
        }
    }

    [BpfFact]
    public async Task KeepAliveRequestsHaveDurationsInsideWhatTheClientMeasured()
    {
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;

        const int rounds = 5;
        var exchanges = new List<ClientExchange>();
        using (var client = new KeepAliveClient(server.Port))
        {
            for (int round = 0; round < rounds; round++)
            {
                foreach ((string path, int status) in s_mix)
                {
                    ClientExchange exchange = client.Get(path.Replace("/1", $"/1{round}", StringComparison.Ordinal));
                    Assert.Equal(status, exchange.Status);
                    exchanges.Add(exchange);
                }
            }
        }

        List<HttpSpan> spans = await traced.SpansAsync(exchanges.Count);
        for (int i = 0; i < exchanges.Count; i++)
            AssertMatches(exchanges[i], spans[i], server);
    }

    [BpfFact]
    public async Task ConcurrentKeepAliveClientsAreCountedExactly()
    {
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;

        const int clients = 4;
        int perClient = LoadRequestsPerClient;
        ClientExchange[][] results = await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(() =>
        {
            using var client = new KeepAliveClient(server.Port);
            return Enumerable.Range(0, perClient).Select(i => client.Get(i % 10 == 9 ? $"/status/500" : $"/hello/{c}/{i}")).ToArray();
        })));

        List<HttpSpan> spans = await traced.SpansAsync(clients * perClient);
        Assert.Equal(0, traced.Tracer.Statistics.TotalLost);
        foreach (ClientExchange[] perConnection in results)
        {
            int port = perConnection[0].LocalPort;
            List<HttpSpan> ofConnection = spans.Where(s => s.PeerPort == port).ToList();
            Assert.Equal(perConnection.Length, ofConnection.Count);
            for (int i = 0; i < perConnection.Length; i++)
                AssertMatches(perConnection[i], ofConnection[i], server);
        }
    }

    [BpfFact]
    public async Task PostWithBodySplitAcrossWritesIsOneSpan()
    {
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;

        byte[] body = new byte[3000];
        new Random(42).NextBytes(body);
        ClientExchange exchange;
        using (var client = new KeepAliveClient(server.Port))
            exchange = client.Send("POST", "/echo", body, bodyPieces: 3, pauseMs: 30);
        Assert.Equal(200, exchange.Status);

        HttpSpan span = (await traced.SpansAsync(1))[0];
        Assert.Equal("POST", span.Method);
        Assert.Equal("/echo", span.Path);
        Assert.Equal(200, span.StatusCode);
        Assert.Equal(exchange.ResponseBytes, span.ResponseBytes);
        AssertWithin(span, exchange.StartTimestamp, exchange.EndTimestamp);
        if (ReadsBodyBeforeAnswering)
        {
            Assert.Equal(exchange.RequestBytes, span.RequestBytes);
            // The server answered after the last piece: the span covers both pauses.
            Assert.True(span.DurationNanoseconds >= 2 * 30_000_000 * 0.9, $"duration {span.DurationNanoseconds} ns");
        }
    }

    [BpfFact]
    public async Task RequestsOnAConnectionOpenedBeforeTracingAreSeen()
    {
        using ServerProcess server = StartServer(FreePort.Next());
        using var client = new KeepAliveClient(server.Port);
        Assert.Equal(200, client.Get("/hello/before").Status);

        await using BeylaTracer tracer = Build(server, out _);
        await using var collector = new SpanCollector(tracer);
        IReadOnlySet<int> pids = ServingPids(server);
        var exchanges = new List<ClientExchange> { client.Get("/hello/after1"), client.Get("/status/500"), client.Get("/hello/after2") };

        List<HttpSpan> spans = await collector.WaitForAsync(exchanges.Count, s => pids.Contains(s.ProcessId));
        Assert.Equal(exchanges.Count, spans.Count);
        for (int i = 0; i < exchanges.Count; i++)
            AssertMatches(exchanges[i], spans[i], server);
    }

    /// <summary>Whether the server has a /slow/MS route.</summary>
    private protected virtual bool HasSlowRoute => true;

    [BpfFact]
    public async Task ConnectionClosedBeforeAnyResponseGivesASpanWithoutStatus()
    {
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;
        (long start, long end) closed;
        using (var client = new KeepAliveClient(server.Port))
            closed = client.GetExpectingClose("/drop/now");

        HttpSpan span = (await traced.SpansAsync(1))[0];
        Assert.Equal("/drop/now", span.Path);
        Assert.Equal(0, span.StatusCode);
        Assert.Equal(SpanEndReason.NoResponse, span.EndReason);
        Assert.Equal(0, span.ResponseBytes);
        Assert.True(span.StartTimestamp >= closed.start && span.StartTimestamp <= closed.end);
    }

    [BpfFact]
    public async Task ResponseLargerThanASocketBufferIsOneCompleteSpan()
    {
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;
        var exchanges = new List<ClientExchange>();
        using (var client = new KeepAliveClient(server.Port))
        {
            exchanges.Add(client.Get("/big/4194304"));
            exchanges.Add(client.Get("/hello/after-big"));
        }

        List<HttpSpan> spans = await traced.SpansAsync(2);
        Assert.True(exchanges[0].ResponseBytes > 4194304);
        for (int i = 0; i < 2; i++)
        {
            AssertMatches(exchanges[i], spans[i], server);
            Assert.Equal(SpanEndReason.ResponseComplete, spans[i].EndReason);
        }
    }

    [BpfFact]
    public async Task RequestHeadArrivingByteByByteIsOneSpan()
    {
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;
        ClientExchange exchange;
        using (var client = new KeepAliveClient(server.Port))
            exchange = client.GetBytewise("/hello/one-byte-at-a-time", pauseMs: 2);

        HttpSpan span = (await traced.SpansAsync(1))[0];
        AssertMatches(exchange, span, server);
    }

    /// <summary>
    /// The next request's first bytes arrive while the server still works on the current one
    /// (Go's server reads one byte in the background then, once it has read the current request's
    /// body; Node and Kestrel read what comes): they start the next request, whether the server
    /// reads them at once or with the rest, after a request with a body (its length in its head) too,
    /// and after a POST with neither a body nor a Content-Length (<paramref name="bodyBytes"/> -1).
    /// </summary>
    [BpfTheory]
    [InlineData(1, 0)]
    [InlineData(5, 0)]
    [InlineData(1, 1000)]
    [InlineData(5, 100)]
    [InlineData(1, -1)]
    [InlineData(5, -1)]
    public async Task NextRequestWhoseFirstBytesComeBeforeTheAnswerIsItsOwnSpan(int early, int bodyBytes)
    {
        if (!HasSlowRoute)
            return;
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;
        List<ClientExchange> exchanges;
        using (var client = new KeepAliveClient(server.Port))
        {
            byte[]? body = bodyBytes > 0 ? new byte[bodyBytes] : bodyBytes < 0 ? [] : null;
            exchanges = client.GetStartingTheNextEarly("/slow/300", "/hello/next", early, pauseMs: 100, body);
            exchanges.Add(client.Get("/hello/after"));
        }

        List<HttpSpan> spans = await traced.SpansAsync(exchanges.Count);
        for (int i = 0; i < exchanges.Count; i++)
            AssertMatches(exchanges[i], spans[i], server);
        Assert.Equal(0, traced.Tracer.Statistics.TotalLost);
    }

    /// <summary>
    /// GETs each path, in order, on one keep-alive connection: each is one span that matches what
    /// the client saw and ended with its response, and nothing is lost.
    /// </summary>
    private protected async Task AssertEachIsOneCompleteSpanAsync(params string[] paths)
    {
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;
        var exchanges = new List<ClientExchange>();
        using (var client = new KeepAliveClient(server.Port))
        {
            foreach (string path in paths)
                exchanges.Add(client.Get(path));
        }

        List<HttpSpan> spans = await traced.SpansAsync(exchanges.Count);
        for (int i = 0; i < exchanges.Count; i++)
        {
            AssertMatches(exchanges[i], spans[i], server);
            Assert.Equal(SpanEndReason.ResponseComplete, spans[i].EndReason);
        }
        Assert.Equal(0, traced.Tracer.Statistics.TotalLost);
    }

    /// <summary>Whether the server answers /chunked/N with a chunked body.</summary>
    private protected virtual bool HasChunkedRoute => true;

    /// <summary>
    /// A chunked response ends with its last chunk, whether that goes alone (Python), in one
    /// writev with the chunk before it (Node's res.end), or as Kestrel writes it.
    /// </summary>
    [BpfFact]
    public async Task ChunkedResponseEndsWithItsLastChunk()
    {
        if (!HasChunkedRoute)
            return;
        await AssertEachIsOneCompleteSpanAsync("/chunked/100", "/chunked/7", "/chunked/1", "/hello/after");
    }

    /// <summary>Whether the server answers /trailers/N with a chunked body and trailer fields.</summary>
    private protected virtual bool HasTrailersRoute => false;

    /// <summary>A chunked response whose last chunk has trailer fields ends with them.</summary>
    [BpfFact]
    public async Task ChunkedResponseWithTrailersEndsWithThem()
    {
        if (!HasTrailersRoute)
            return;
        await AssertEachIsOneCompleteSpanAsync("/trailers/100", "/trailers/3", "/hello/after");
    }

    /// <summary>Whether the server answers /interim/NNN with an interim response and the final one in one write.</summary>
    private protected virtual bool HasInterimRoute => false;

    /// <summary>
    /// An interim response (100 Continue, 103 Early Hints) written together with the final one:
    /// the span has the final status, and the interim's bytes are not counted.
    /// </summary>
    [BpfTheory]
    [InlineData(100)]
    [InlineData(103)]
    public async Task InterimAndFinalResponseInOneWriteIsOneSpan(int interim)
    {
        if (!HasInterimRoute)
            return;
        await AssertEachIsOneCompleteSpanAsync($"/interim/{interim}", $"/interim/{interim}", "/hello/after");
    }

    /// <summary>Whether the server answers /pieces/HOW/NNN with a head written in one buffer per word (writev, sendmsg).</summary>
    private protected virtual bool HasPiecesRoute => false;

    /// <summary>
    /// A response whose head is written in one call but from many buffers, the first of them only
    /// "HTTP/1.1" (varnish writes one per word and line end), or a line per write (Perl's
    /// HTTP::Daemon), is recognised: status and length, and the span ends with the response.
    /// </summary>
    [BpfTheory]
    [InlineData("writev")]
    [InlineData("sendmsg")]
    [InlineData("writes")]
    public async Task ResponseHeadWrittenFromManyBuffersIsOneSpan(string how)
    {
        if (!HasPiecesRoute)
            return;
        await AssertEachIsOneCompleteSpanAsync($"/pieces/{how}/200", $"/pieces/{how}/503", "/hello/after");
    }

    /// <summary>Whether the server answers /longhead/HOW/N with an N-byte head whose last field is its Content-Length.</summary>
    private protected virtual bool HasLongHeadRoute => false;

    /// <summary>
    /// A response head longer than the 511 bytes scanned at a time (cookies, security headers):
    /// its Content-Length and end are found past them, also where the blank line or the
    /// Content-Length line crosses from one window to the next (heads of 512, 530, 990, 991
    /// bytes), where the head comes in two writes cut in its Content-Length value, in one writev
    /// of a buffer per line and line end (varnish), and for a chunked body; each span ends with
    /// its response.
    /// </summary>
    [BpfTheory]
    [InlineData("one", 512, 530, 990, 991)]
    [InlineData("one", 600, 2000, 8000, 14000)]
    [InlineData("split", 600, 1200, 3000, 5000)]
    [InlineData("writev", 400, 600, 2000, 8000)]
    [InlineData("chunked", 600, 2000, 990, 991)]
    public async Task ResponseHeadOverFiveHundredElevenBytesIsOneSpan(string how, int a, int b, int c, int d)
    {
        if (!HasLongHeadRoute)
            return;
        await AssertEachIsOneCompleteSpanAsync($"/longhead/{how}/{a}", $"/longhead/{how}/{b}", $"/longhead/{how}/{c}", $"/longhead/{how}/{d}", "/hello/after");
    }

    /// <summary>
    /// Requests pipelined in one write (HTTP benchmarks pipeline 16 deep) are each one span,
    /// whether the server reads them in one read or several, and answers them in one write or several.
    /// </summary>
    [BpfTheory]
    [InlineData(3)]
    [InlineData(16)]
    public async Task PipelinedRequestsInOneWriteAreEachOneSpan(int depth)
    {
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;
        List<ClientExchange> exchanges;
        using (var client = new KeepAliveClient(server.Port))
        {
            exchanges = client.GetPipelined(Enumerable.Range(1, depth).Select(i => i % 3 == 2 ? "/status/500" : $"/hello/p{i}").ToArray());
            exchanges.Add(client.Get("/hello/after"));
        }

        List<HttpSpan> spans = await traced.SpansAsync(exchanges.Count);
        for (int i = 0; i < exchanges.Count; i++)
            AssertMatches(exchanges[i], spans[i], server);
        Assert.Equal(0, traced.Tracer.Statistics.TotalLost);
    }

    /// <summary>Whether the server answers a WebSocket handshake at /ws and echoes frames.</summary>
    private protected virtual bool HasWebSocketRoute => true;

    /// <summary>Whether the server answers /ws?split with the 101's status line and headers in two writes.</summary>
    private protected virtual bool SplitsWebSocketAnswer => false;

    /// <summary>
    /// A WebSocket handshake is one span, which its 101 ends; the frames that follow on the
    /// connection are another protocol's and make none, even a payload that reads like a request
    /// and arrives alone (its frame's header first). A 101 whose head comes in two writes ends
    /// with the first (the span counts its bytes only).
    /// </summary>
    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WebSocketHandshakeIsOneSpanAndItsFramesNone(bool answerInTwoWrites)
    {
        if (!HasWebSocketRoute || (answerInTwoWrites && !SplitsWebSocketAnswer))
            return;
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;
        var exchanges = new List<ClientExchange>();
        using (var client = new KeepAliveClient(server.Port))
        {
            exchanges.Add(client.Get("/hello/before"));
            exchanges.Add(client.Upgrade(answerInTwoWrites ? "/ws?split" : "/ws"));
            foreach (string text in new[] { "hello", "GET /hello/in-a-frame HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" })
                Assert.Equal(text, client.EchoFrame(text, pauseMs: 20));
            client.CloseWebSocket();
        }
        using (var client = new KeepAliveClient(server.Port))
            exchanges.Add(client.Get("/hello/after"));

        Assert.Equal(101, exchanges[1].Status);
        List<HttpSpan> spans = await traced.SpansAsync(exchanges.Count);
        if (answerInTwoWrites)
        {
            Assert.Equal("HTTP/1.1 101 Switching Protocols\r\n".Length, spans[1].ResponseBytes);
            exchanges[1] = exchanges[1] with { ResponseBytes = spans[1].ResponseBytes };
        }
        for (int i = 0; i < exchanges.Count; i++)
            AssertMatches(exchanges[i], spans[i], server);
        Assert.Equal(SpanEndReason.ResponseComplete, spans[1].EndReason);
        Assert.Equal(0, traced.Tracer.Statistics.TotalLost);
    }

    [BpfFact]
    public async Task SlowResponsesAreTimedAsTheClientWaited()
    {
        if (!HasSlowRoute)
            return;
        await using TracedServer traced = StartTraced();
        ServerProcess server = traced.Server;
        ClientExchange exchange;
        using (var client = new KeepAliveClient(server.Port))
            exchange = client.Get("/slow/300");

        HttpSpan span = (await traced.SpansAsync(1))[0];
        AssertMatches(exchange, span, server);
        // Server timers (Task.Delay, setTimeout) have millisecond granularity and may fire a little early.
        Assert.True(span.DurationNanoseconds >= 295_000_000, $"{span.DurationNanoseconds} ns");
    }

    /// <summary>A tracer selecting the server with the socket probe set (what WithHttpProbes adds), which is kept at hand for its kernel counters.</summary>
    private BeylaTracer Build(ServerProcess server, out SocketProbeSet probes)
    {
        SocketProbeSet? made = null;
        BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => Select(p, server))
            .WithEventSource(context => made = new SocketProbeSet(context)).Build();
        probes = made!;
        return tracer;
    }

    /// <summary>Starts the server, then a tracer selecting it, and collects its spans.</summary>
    private TracedServer StartTraced()
    {
        ServerProcess server = StartServer(FreePort.Next());
        try
        {
            BeylaTracer tracer = Build(server, out SocketProbeSet probes);
            return new TracedServer(server, tracer, probes, ServingPids(server));
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>A server, the tracer watching it, and the spans its processes produce.</summary>
    private sealed class TracedServer : IAsyncDisposable
    {
        private readonly SpanCollector _collector;
        private readonly SocketProbeSet _probes;
        private readonly IReadOnlySet<int> _pids;

        public TracedServer(ServerProcess server, BeylaTracer tracer, SocketProbeSet probes, IReadOnlySet<int> pids)
        {
            Server = server;
            Tracer = tracer;
            _probes = probes;
            _pids = pids;
            _collector = new SpanCollector(tracer);
        }

        public ServerProcess Server { get; }

        public BeylaTracer Tracer { get; }

        /// <summary>
        /// Waits for <paramref name="count"/> spans of the server's processes (and a quiet moment for
        /// extras) and asserts that exactly that many came. When they did not, the message says where
        /// the difference arose: the kernel's counters, the tracer's, and the spans per client port.
        /// </summary>
        public async Task<List<HttpSpan>> SpansAsync(int count)
        {
            List<HttpSpan> spans = await _collector.WaitForAsync(count, s => _pids.Contains(s.ProcessId));
            Assert.True(spans.Count == count, $"{spans.Count} spans of {count}. {Counters()}. Spans per client port: "
                + string.Join(", ", spans.GroupBy(s => s.PeerPort).Select(g => $"{g.Key}: {g.Count()}")));
            return spans;
        }

        private string Counters() =>
            $"Kernel: {_probes.ReadStat(KernelStat.EventsSubmitted)} events submitted, "
            + $"{_probes.ReadStat(KernelStat.EventsLostRingBuffer)} lost to a full ring, "
            + $"{_probes.ReadStat(KernelStat.ResponsesUnmatched)} responses unmatched, "
            + $"{_probes.ReadStat(KernelStat.RequestsDropped)} requests dropped from a full queue, "
            + $"{_probes.ReadStat(KernelStat.ConnectionsTracked)} connections tracked. Tracer: {Tracer.Statistics}";

        public async ValueTask DisposeAsync()
        {
            await _collector.DisposeAsync();
            await Tracer.DisposeAsync();
            Server.Dispose();
        }
    }

    private void AssertMatches(ClientExchange exchange, HttpSpan span, ServerProcess server)
    {
        Assert.Equal(HttpSpanKind.Server, span.Kind);
        Assert.Equal(exchange.Method, span.Method);
        Assert.Equal(exchange.Path.Split('?')[0], span.Path);
        Assert.Equal(exchange.Status, span.StatusCode);
        Assert.Equal(exchange.RequestBytes, span.RequestBytes);
        Assert.Equal(exchange.ResponseBytes, span.ResponseBytes);
        Assert.Contains(span.ProcessId, ServingPids(server));
        Assert.Equal(server.Port, span.LocalPort);
        Assert.Equal(exchange.LocalPort, span.PeerPort);
        Assert.Equal(IPAddress.Loopback, span.PeerAddress);
        AssertWithin(span, exchange.StartTimestamp, exchange.EndTimestamp);
    }

    /// <summary>The span lies inside [start, end] (Stopwatch timestamps, CLOCK_MONOTONIC on Linux).</summary>
    private static void AssertWithin(HttpSpan span, long start, long end)
    {
        Assert.Equal(1_000_000_000, Stopwatch.Frequency);
        Assert.True(span.DurationNanoseconds > 0, $"{span.Path}: duration {span.DurationNanoseconds}");
        Assert.True(span.StartTimestamp >= start, $"{span.Path}: span starts {start - span.StartTimestamp} ns before the client sent");
        Assert.True(span.StartTimestamp + span.DurationNanoseconds <= end, $"{span.Path}: span ends {span.StartTimestamp + span.DurationNanoseconds - end} ns after the client received");
    }

    private protected static string Run(string file, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments)
            info.ArgumentList.Add(a);
        using Process p = Process.Start(info)!;
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} exited with {p.ExitCode}: {error}");
        return output;
    }
}
