using System.Diagnostics;
using System.Globalization;

namespace Beyla.Bpf.Tests;

/// <summary>
/// CONNECT tunnels, as a forward proxy opens them for <c>HTTPS_PROXY</c>: the CONNECT is one span,
/// which its 2xx ends; what the tunnel carries is never the proxy's server span, and on the client
/// it is the client's own exchanges, each a span.
/// </summary>
public sealed class TunnelTests
{
    private const long EstablishedBytes = 39; // "HTTP/1.1 200 Connection established\r\n\r\n"

    /// <summary>
    /// curl through a tunnel (<c>-p</c>), which reads the CONNECT's answer a byte at a time: the
    /// CONNECT, then each request on the tunnel.
    /// </summary>
    [BpfFact]
    public async Task CurlThroughATunnelGivesTheConnectSpanThenEachTunnelledRequestItsOwn()
    {
        int originPort = FreePort.Next();
        int proxyPort = FreePort.Next();
        using ServerProcess origin = StartOrigin(originPort);
        using ServerProcess proxy = StartProxy(proxyPort);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ExecutableName("curl")).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        string[] paths = ["/hello/a", "/missing/b"];
        int[] statuses = [200, 404];
        (Process curl, string[][] results, long before, long after) = await RunCurlAsync(proxyPort, originPort, paths);
        using (curl)
        {
            // a tunnel per connection curl opened to the proxy (it reuses one for both requests)
            int tunnels = results.Select(r => r[1]).Distinct().Count();
            List<HttpSpan> spans = await collector.WaitForAsync(tunnels + paths.Length, s => s.ProcessId == curl.Id);
            Assert.Equal(tunnels + paths.Length, spans.Count);
            List<HttpSpan> connects = spans.Where(s => s.Method == "CONNECT").ToList();
            Assert.Equal(tunnels, connects.Count);
            foreach (HttpSpan connect in connects)
            {
                Assert.Equal(200, connect.StatusCode);
                Assert.Equal(EstablishedBytes, connect.ResponseBytes);
                Assert.Equal(SpanEndReason.ResponseComplete, connect.EndReason);
                Assert.Equal(proxyPort, connect.PeerPort);
            }
            List<HttpSpan> requests = spans.Where(s => s.Method != "CONNECT").ToList();
            for (int i = 0; i < paths.Length; i++)
            {
                Assert.Equal(HttpSpanKind.Client, requests[i].Kind);
                Assert.Equal(paths[i], requests[i].Path);
                Assert.Equal(statuses[i], requests[i].StatusCode);
                Assert.Equal(int.Parse(results[i][0], CultureInfo.InvariantCulture), requests[i].StatusCode);
                Assert.Equal(int.Parse(results[i][1], CultureInfo.InvariantCulture), requests[i].LocalPort);
                Assert.True(requests[i].StartTimestamp >= before && requests[i].StartTimestamp + requests[i].DurationNanoseconds <= after);
            }
        }
    }

    /// <summary>
    /// Python's http.client through a tunnel (<c>set_tunnel</c>): the CONNECT, then each request on
    /// the tunnel.
    /// </summary>
    [BpfFact]
    public async Task ClientThroughATunnelGivesTheConnectSpanThenEachTunnelledRequestItsOwn()
    {
        int originPort = FreePort.Next();
        int proxyPort = FreePort.Next();
        using ServerProcess origin = StartOrigin(originPort);
        using ServerProcess proxy = StartProxy(proxyPort);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ExecutableName("python3")).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        string[] paths = ["/hello/a", "/missing/b"];
        int[] statuses = [200, 404];
        const string Script = """
            import http.client, sys
            conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
            conn.set_tunnel("127.0.0.1", int(sys.argv[2]))
            for path in sys.argv[3:]:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                print(response.status, conn.sock.getsockname()[1], flush=True)
            """;
        var info = new ProcessStartInfo("python3") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in (string[])["-c", Script, proxyPort.ToString(CultureInfo.InvariantCulture), originPort.ToString(CultureInfo.InvariantCulture), .. paths])
            info.ArgumentList.Add(argument);
        long before = Stopwatch.GetTimestamp();
        using Process client = Process.Start(info)!;
        string output = await client.StandardOutput.ReadToEndAsync();
        await client.WaitForExitAsync();
        long after = Stopwatch.GetTimestamp();
        string[][] results = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToArray();
        Assert.Equal(paths.Length, results.Length);

        List<HttpSpan> spans = await collector.WaitForAsync(1 + paths.Length, s => s.ProcessId == client.Id);
        Assert.Equal(1 + paths.Length, spans.Count);
        HttpSpan connect = spans[0];
        Assert.Equal(HttpSpanKind.Client, connect.Kind);
        Assert.Equal("CONNECT", connect.Method);
        Assert.Equal(200, connect.StatusCode);
        Assert.Equal(EstablishedBytes, connect.ResponseBytes);
        Assert.Equal(proxyPort, connect.PeerPort);
        for (int i = 0; i < paths.Length; i++)
        {
            HttpSpan span = spans[1 + i];
            Assert.Equal(HttpSpanKind.Client, span.Kind);
            Assert.Equal("GET", span.Method);
            Assert.Equal(paths[i], span.Path);
            Assert.Equal(statuses[i], span.StatusCode);
            Assert.Equal(int.Parse(results[i][0], CultureInfo.InvariantCulture), span.StatusCode);
            Assert.Equal(int.Parse(results[i][1], CultureInfo.InvariantCulture), span.LocalPort);
            Assert.Equal(proxyPort, span.PeerPort); // the socket's peer is the proxy
            Assert.True(span.StartTimestamp >= before && span.StartTimestamp + span.DurationNanoseconds <= after);
            Assert.True(connect.StartTimestamp + connect.DurationNanoseconds <= span.StartTimestamp);
        }
    }

    [BpfFact]
    public async Task ProxyGivesTheConnectSpanAndNoneForWhatItRelays()
    {
        int originPort = FreePort.Next();
        int proxyPort = FreePort.Next();
        using ServerProcess origin = StartOrigin(originPort);
        using ServerProcess proxy = StartProxy(proxyPort);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(proxy.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        (Process curl, _, _, _) = await RunCurlAsync(proxyPort, originPort, ["/hello/through"]);
        curl.Dispose();

        // its server span is the CONNECT; the request it relays goes out on its own connection to
        // the origin, which the kernel sees as the proxy's client span
        List<HttpSpan> spans = await collector.WaitForAsync(2);
        Assert.Equal(2, spans.Count);
        HttpSpan connect = Assert.Single(spans, s => s.Kind == HttpSpanKind.Server);
        Assert.Equal("CONNECT", connect.Method);
        Assert.Equal(200, connect.StatusCode);
        Assert.Equal(EstablishedBytes, connect.ResponseBytes);
        Assert.Equal(proxyPort, connect.ServerPort);
        HttpSpan relayed = Assert.Single(spans, s => s.Kind == HttpSpanKind.Client);
        Assert.Equal("/hello/through", relayed.Path);
        Assert.Equal(200, relayed.StatusCode);
        Assert.Equal(originPort, relayed.PeerPort);
        Assert.True(connect.StartTimestamp + connect.DurationNanoseconds <= relayed.StartTimestamp);
    }

    private static ServerProcess StartOrigin(int port) =>
        ServerProcess.Start("node", [Path.Combine(TestEnvironment.ServersDirectory, "node_server.js"), port.ToString(CultureInfo.InvariantCulture)], port);

    private static ServerProcess StartProxy(int port) =>
        ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "connect_proxy.py"), port.ToString(CultureInfo.InvariantCulture)], port);

    /// <summary>curl through the proxy's tunnel (<c>-p</c>) to each path; per path its status and local port.</summary>
    private static async Task<(Process Curl, string[][] Results, long Before, long After)> RunCurlAsync(int proxyPort, int originPort, string[] paths)
    {
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in (string[])["-s", "-p", "-x", $"http://127.0.0.1:{proxyPort}", "-w", "%{http_code} %{local_port}\\n"])
            info.ArgumentList.Add(argument);
        foreach (string path in paths)
        {
            info.ArgumentList.Add("-o");
            info.ArgumentList.Add("/dev/null");
            info.ArgumentList.Add($"http://127.0.0.1:{originPort}{path}");
        }
        long before = Stopwatch.GetTimestamp();
        Process curl = Process.Start(info)!;
        string output = await curl.StandardOutput.ReadToEndAsync();
        await curl.WaitForExitAsync();
        long after = Stopwatch.GetTimestamp();
        string[][] results = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToArray();
        Assert.Equal(paths.Length, results.Length);
        return (curl, results, before, after);
    }
}
