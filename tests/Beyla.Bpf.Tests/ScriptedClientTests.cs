using System.Globalization;
using System.Net;

namespace Beyla.Bpf.Tests;

/// <summary>
/// Client spans from real HTTP clients in other languages, on keep-alive and fresh
/// connections and against a slow route. Each client waits until the tracer is attached,
/// then reports its own CLOCK_MONOTONIC timing per request.
/// </summary>
public sealed class ScriptedClientTests
{
    private static readonly (string Path, int Status)[] s_requests =
        [("/hello/1", 200), ("/missing/2", 404), ("/slow/150", 200), ("/status/500", 500), ("/hello/5?q=1", 200)];

    [BpfFact]
    public Task PythonUrllibOnFreshConnections() => RunAsync("python3", "python_client.py", "urllib");

    [BpfFact]
    public Task PythonHttpClientOnOneKeepAliveConnection() => RunAsync("python3", "python_client.py", "keepalive");

    /// <summary>The first request alone on the connection, then the four others in one write (pipelined).</summary>
    [BpfFact]
    public Task PythonPipelinedRequestsInOneWrite() => RunAsync("python3", "python_client.py", "pipelined");

    /// <summary>
    /// A WebSocket handshake is one client span, which the 101 ends; the frames after it make none,
    /// though their payloads read like HTTP and are written apart from their headers.
    /// </summary>
    [BpfFact]
    public Task PythonWebSocketHandshake() =>
        RunAsync(port => GatedClient.StartAsync("python3", "python_client.py", [$"http://127.0.0.1:{port}", "websocket", "/hello/1", "/ws", "/hello/after"]),
            [("/hello/1", 200), ("/ws", 101), ("/hello/after", 200)]);

    /// <summary>
    /// A client that reads every response a byte at a time (curl reads a CONNECT's answer so;
    /// varnish its backends' chunk-size lines): status, length, chunks and the last chunk are
    /// followed across reads, and each span ends with its response.
    /// </summary>
    [BpfFact]
    public Task PythonReadingAByteAtATime() =>
        RunAsync(port => GatedClient.StartAsync("python3", "python_client.py", [$"http://127.0.0.1:{port}", "bytewise", "/hello/1", "/chunked/100", "/missing/2", "/chunked/7", "/hello/5"]),
            [("/hello/1", 200), ("/chunked/100", 200), ("/missing/2", 404), ("/chunked/7", 200), ("/hello/5", 200)], responsesComplete: true);

    /// <summary>
    /// A client that writes its next request when the response before it has only part of its
    /// head in (5 bytes: not yet a status line; 20: the status line and part of a header): each
    /// response still ends where it ends, and the next request waits for it.
    /// </summary>
    [BpfTheory]
    [InlineData(5)]
    [InlineData(20)]
    public Task PythonWritingTheNextRequestWithinAResponseHead(int readFirst) =>
        RunAsync(port => GatedClient.StartAsync("python3", "python_client.py", [$"http://127.0.0.1:{port}", $"early-next:{readFirst}", "/hello/1", "/missing/2", "/hello/5", "/hello/3"]),
            [("/hello/1", 200), ("/missing/2", 404), ("/hello/5", 200), ("/hello/3", 200)], responsesComplete: true);

    /// <summary>
    /// A client that moves each response's body from the socket into a pipe by splice after
    /// reading its head (haproxy's splice-response): no hook sees those bytes, but the socket's
    /// consumed count shows the response ended, so the next request is a span of its own and
    /// not queued behind a response that never completes. The spliced responses end at the next
    /// request, or the last one at the close (their last bytes' time is not seen), with all their
    /// bytes.
    /// </summary>
    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public Task PythonSplicingResponseBodiesIntoAPipe(bool lastToo) =>
        RunAsync(port => GatedClient.StartAsync("python3", "python_client.py", [$"http://127.0.0.1:{port}", lastToo ? "splice-body:all" : "splice-body", "/big/300000", "/big/200000", "/missing/1", "/big/100000"]),
            [("/big/300000", 200), ("/big/200000", 200), ("/missing/1", 404), ("/big/100000", 200)],
            ends: [SpanEndReason.NextRequest, SpanEndReason.NextRequest, SpanEndReason.ResponseComplete, lastToo ? SpanEndReason.ConnectionClosed : SpanEndReason.ResponseComplete]);

    /// <summary>
    /// The same with a request pipelined behind the spliced response: the next request written
    /// ends the spliced response and waits behind the pipelined one, which the next response
    /// answers (it used to overwrite it, and every later span was off by one).
    /// </summary>
    [BpfFact]
    public Task PythonSplicingAResponseWithARequestPipelinedBehindIt() =>
        RunAsync(port => GatedClient.StartAsync("python3", "python_client.py", [$"http://127.0.0.1:{port}", "splice-pipelined", "/big/300000", "/hello/2", "/missing/3"]),
            [("/big/300000", 200), ("/hello/2", 200), ("/missing/3", 404)],
            ends: [SpanEndReason.NextRequest, SpanEndReason.ResponseComplete, SpanEndReason.ResponseComplete]);

    [BpfFact]
    public Task NodeFetch() => RunAsync("node", "node_client.js", "fetch");

    [BpfFact]
    public Task NodeHttpRequestKeepAlive() => RunAsync("node", "node_client.js", "request");

    [BpfFact]
    public Task NodeHttpRequestFreshConnections() => RunAsync("node", "node_client.js", "request-fresh");

    /// <summary>Go's net/http Transport: a write goroutine and a read goroutine per connection.</summary>
    [BpfFact]
    public Task GoNetHttpOnOneKeepAliveConnection() =>
        RunAsync(port => GatedClient.StartProgramAsync(GoProgram.Path, ["client", $"http://127.0.0.1:{port}", .. s_requests.Select(r => r.Path)]));

    private static Task RunAsync(string interpreter, string script, string mode) =>
        RunAsync(port => GatedClient.StartAsync(interpreter, script, [$"http://127.0.0.1:{port}", mode, .. s_requests.Select(r => r.Path)]));

    private static async Task RunAsync(Func<int, Task<GatedClient>> startClient, (string Path, int Status)[]? requests = null, bool responsesComplete = false, SpanEndReason[]? ends = null)
    {
        requests ??= s_requests;
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("dotnet", [TestEnvironment.KestrelServerDll, "--urls", $"http://127.0.0.1:{port}"], port);

        using GatedClient client = await startClient(port);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);
        long[][] measured = (await client.RunAsync())
            .Select(l => l.Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        Assert.Equal(requests.Length, measured.Length);

        List<HttpSpan> spans = await collector.WaitForAsync(requests.Length, s => s.ProcessId == client.Pid);
        Assert.Equal(requests.Length, spans.Count);
        for (int i = 0; i < requests.Length; i++)
        {
            HttpSpan span = spans[i];
            Assert.Equal(HttpSpanKind.Client, span.Kind);
            Assert.Equal("GET", span.Method);
            Assert.Equal(requests[i].Path.Split('?')[0], span.Path);
            Assert.Equal(requests[i].Status, span.StatusCode);
            Assert.Equal(measured[i][0], span.StatusCode);
            Assert.Equal(IPAddress.Loopback, span.PeerAddress);
            Assert.Equal(port, span.PeerPort);
            Assert.True(span.RequestBytes > 0 && span.ResponseBytes > 0);
            if (responsesComplete)
                Assert.Equal(SpanEndReason.ResponseComplete, span.EndReason);
            if (ends is not null)
                Assert.Equal(ends[i], span.EndReason);
            if (measured[i].Length > 3) // the client counted the response's bytes
                Assert.Equal(measured[i][3], span.ResponseBytes);
            Assert.True(span.StartTimestamp >= measured[i][1], $"{span.Path}: span starts before the client's request");
            Assert.True(span.StartTimestamp + span.DurationNanoseconds <= measured[i][2], $"{span.Path}: span ends after the client had the response");
            if (requests[i].Path.StartsWith("/slow/", StringComparison.Ordinal))
                // Server timers (Task.Delay, setTimeout) have millisecond granularity and may fire a little early.
                Assert.True(span.DurationNanoseconds >= 145_000_000, $"{span.Path}: {span.DurationNanoseconds} ns, {span.EndReason}, client measured {measured[i][2] - measured[i][1]} ns");
        }
    }
}
