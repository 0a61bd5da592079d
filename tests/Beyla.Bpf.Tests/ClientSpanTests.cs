using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Beyla.Bpf.Tests;

/// <summary>Client spans: the traced process sends the requests.</summary>
public sealed class ClientSpanTests
{
    /// <summary>
    /// curl, selected by its executable's name, is traced from its first request when it starts
    /// after the tracer, also when it is started through a link of another name (its command name
    /// is then the link's: php for php8.2, python3 for python3.11).
    /// </summary>
    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CurlStartedAfterTracingBeganIsTracedByNameFromItsFirstRequest(bool throughLink)
    {
        string? linkDirectory = throughLink ? Directory.CreateTempSubdirectory("beyla-link-").FullName : null;
        try
        {
            int port = FreePort.Next();
            using ServerProcess server = ServerProcess.Start("node", [Path.Combine(TestEnvironment.ServersDirectory, "node_server.js"), port.ToString(CultureInfo.InvariantCulture)], port);
            await RunCurlAsync(linkDirectory, server, [("/hello/a", 200), ("/missing/b", 404), ("/status/500", 500), ("/hello/c?q=1", 200)]);
        }
        finally
        {
            if (linkDirectory is not null)
                Directory.Delete(linkDirectory, recursive: true);
        }
    }

    /// <summary>
    /// curl reading, on one keep-alive connection, responses whose heads are longer than the 511
    /// bytes scanned at a time: each client span ends with its response, its bytes those curl read
    /// (a chunked body is left out: curl's size_download counts it decoded).
    /// </summary>
    [BpfFact]
    public async Task CurlReadingResponseHeadsOverFiveHundredElevenBytes()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.StartPython(port);
        await RunCurlAsync(null, server, [("/longhead/one/600", 200), ("/longhead/one/4000", 200), ("/longhead/one/991", 200), ("/longhead/split/900", 200), ("/hello/after", 200)],
            responsesComplete: true);
    }

    private static async Task RunCurlAsync(string? linkDirectory, ServerProcess server, (string Path, int Status)[] requests, bool responsesComplete = false)
    {
        string program = "curl";
        if (linkDirectory is not null)
        {
            string curlPath = Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, "curl")).First(File.Exists);
            program = Path.Combine(linkDirectory, "fetcher");
            File.CreateSymbolicLink(program, curlPath);
        }
        int port = server.Port;
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ExecutableName("curl")).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        string[] paths = requests.Select(r => r.Path).ToArray();
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, UseShellExecute = false };
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
            Assert.Equal(requests[i].Status, span.StatusCode);
            if (responsesComplete)
                Assert.Equal(SpanEndReason.ResponseComplete, span.EndReason);
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

    /// <summary>
    /// The response arrives while the request's write is still in the kernel: another thread
    /// reads it (as .NET's read-ahead and Go's readLoop do). Here the write of a large body
    /// blocks because the server answers after the head and reads the body only later; on a
    /// busy machine a small write can be overtaken the same way, between the copy and the
    /// syscall's return. Each response belongs to its own request, the first one included.
    /// </summary>
    [BpfFact]
    public async Task ResponseReadBeforeTheRequestsWriteReturnedBelongsToThatRequest()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "early_answer_server.py"), port.ToString(CultureInfo.InvariantCulture)], port);
        string[] paths = ["/status/201", "/status/202", "/status/203"];
        const int BodyBytes = 16 << 20; // more than loopback's socket buffers hold: the write blocks
        using GatedClient client = await GatedClient.StartAsync("python3", "early_response_client.py", [port.ToString(CultureInfo.InvariantCulture), BodyBytes.ToString(CultureInfo.InvariantCulture), .. paths]);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);
        long[][] measured = (await client.RunAsync())
            .Select(l => l.Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        Assert.Equal(paths.Length, measured.Length);

        List<HttpSpan> spans = await collector.WaitForAsync(paths.Length, s => s.ProcessId == client.Pid);
        for (int i = 0; i < paths.Length; i++)
        {
            HttpSpan span = spans[i];
            long start = measured[i][2], end = measured[i][3], writeReturned = measured[i][4];
            Assert.True(end < writeReturned, $"{paths[i]}: the write returned before the response was read; nothing was tested");
            Assert.Equal(HttpSpanKind.Client, span.Kind);
            Assert.Equal("POST", span.Method);
            Assert.Equal(paths[i], span.Path);
            Assert.Equal(measured[i][0], span.StatusCode);
            Assert.Equal(measured[i][1], span.RequestBytes);
            Assert.Equal(SpanEndReason.ResponseComplete, span.EndReason);
            Assert.True(span.StartTimestamp >= start, $"{paths[i]}: span starts before the client's request");
            Assert.True(span.StartTimestamp + span.DurationNanoseconds <= end, $"{paths[i]}: span ends after the client had the response");
        }
        await tracer.DisposeAsync();
        Assert.Equal(paths.Length, collector.Spans.Count(s => s.ProcessId == client.Pid));
        Assert.Equal(0, tracer.Statistics.EventsLostInSources);
    }
}
