using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Beyla.Bpf.Tests;

/// <summary>Client spans: the traced process sends the requests.</summary>
public sealed class ClientSpanTests
{
    [BpfFact]
    public async Task CurlStartedAfterTracingBeganIsTracedByNameFromItsFirstRequest()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("node", [Path.Combine(TestEnvironment.ServersDirectory, "node_server.js"), port.ToString(CultureInfo.InvariantCulture)], port);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ExecutableName("curl")).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        string[] paths = ["/hello/a", "/missing/b", "/status/500", "/hello/c?q=1"];
        int[] statuses = [200, 404, 500, 200];
        var info = new ProcessStartInfo("curl") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add("-s");
        info.ArgumentList.Add("-w");
        info.ArgumentList.Add("%{http_code} %{size_request} %{size_header} %{size_download} %{local_port}\\n");
        foreach (string path in paths)
        {
            info.ArgumentList.Add("-o");
            info.ArgumentList.Add("/dev/null");
            info.ArgumentList.Add($"http://127.0.0.1:{port}{path}");
        }
        long before = Stopwatch.GetTimestamp();
        using Process curl = Process.Start(info)!;
        string output = await curl.StandardOutput.ReadToEndAsync();
        await curl.WaitForExitAsync();
        long after = Stopwatch.GetTimestamp();
        string[][] results = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToArray();

        List<HttpSpan> spans = await collector.WaitForAsync(paths.Length, s => s.ProcessId == curl.Id);
        Assert.Equal(paths.Length, spans.Count);
        for (int i = 0; i < paths.Length; i++)
        {
            HttpSpan span = spans[i];
            Assert.Equal(HttpSpanKind.Client, span.Kind);
            Assert.Equal("GET", span.Method);
            Assert.Equal(paths[i].Split('?')[0], span.Path);
            Assert.Equal(statuses[i], span.StatusCode);
            Assert.Equal(long.Parse(results[i][1], CultureInfo.InvariantCulture), span.RequestBytes);
            Assert.Equal(long.Parse(results[i][2], CultureInfo.InvariantCulture) + long.Parse(results[i][3], CultureInfo.InvariantCulture), span.ResponseBytes);
            Assert.Equal(IPAddress.Loopback, span.PeerAddress);
            Assert.Equal(port, span.PeerPort);
            Assert.Equal(port, span.ServerPort);
            Assert.Equal(int.Parse(results[i][4], CultureInfo.InvariantCulture), span.LocalPort);
            Assert.True(span.StartTimestamp >= before && span.StartTimestamp + span.DurationNanoseconds <= after);
        }
    }

    [BpfFact]
    public async Task HttpClientInThisProcessGivesClientSpansCoveringTheServerSpans()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.StartPython(port);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.Current().ProcessId(server.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var measured = new List<(long Start, long End, int Status)>();
        for (int i = 0; i < 6; i++)
        {
            long start = Stopwatch.GetTimestamp();
            using HttpResponseMessage response = await client.GetAsync(i % 3 == 2 ? "/status/500" : $"/hello/{i}");
            await response.Content.ReadAsByteArrayAsync();
            measured.Add((start, Stopwatch.GetTimestamp(), (int)response.StatusCode));
        }

        List<HttpSpan> spans = await collector.WaitForAsync(12);
        List<HttpSpan> clientSpans = spans.Where(s => s.Kind == HttpSpanKind.Client && s.ProcessId == Environment.ProcessId).ToList();
        List<HttpSpan> serverSpans = spans.Where(s => s.Kind == HttpSpanKind.Server && s.ProcessId == server.Pid).ToList();
        Assert.Equal(measured.Count, clientSpans.Count);
        Assert.Equal(measured.Count, serverSpans.Count);
        for (int i = 0; i < measured.Count; i++)
        {
            HttpSpan c = clientSpans[i];
            HttpSpan s = serverSpans[i];
            Assert.Equal(measured[i].Status, c.StatusCode);
            Assert.Equal(c.Path, s.Path);
            Assert.Equal(c.RequestBytes, s.RequestBytes);
            Assert.Equal(c.ResponseBytes, s.ResponseBytes);
            Assert.Equal(c.LocalPort, s.PeerPort);
            Assert.True(c.StartTimestamp >= measured[i].Start && c.StartTimestamp + c.DurationNanoseconds <= measured[i].End);
            // The server's response time lies within the client's.
            Assert.True(s.StartTimestamp >= c.StartTimestamp, $"server starts {c.StartTimestamp - s.StartTimestamp} ns before the client");
            Assert.True(s.StartTimestamp + s.DurationNanoseconds <= c.StartTimestamp + c.DurationNanoseconds);
        }
    }
}
