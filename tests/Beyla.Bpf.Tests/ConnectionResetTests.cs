using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Beyla.Bpf.Tests;

/// <summary>
/// Connections reset (RST, not FIN) before, during and after a response, on a traced server:
/// what the library reports is exactly what the server's syscalls showed, nothing is counted
/// lost that was reported, the tracer carries on, and no connection state stays in the kernel.
/// </summary>
public sealed class ConnectionResetTests
{
    [BpfFact]
    public async Task AClientResetBeforeTheResponseIsOneSpanWithNoResponse()
    {
        using ServerProcess server = StartServer("python_server.py");
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        // The server reads the request, sleeps, then writes its answer into a reset connection
        // (the write fails) and closes.
        byte[] request = Request(server.Port, "/slow/700/reset-before-response");
        int clientPort;
        using (Socket socket = Connect(server.Port))
        {
            clientPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
            socket.Send(request);
            await WaitForConnectionStateAsync(server.Pid); // the server has read the request
            Reset(socket);
        }

        HttpSpan span = Assert.Single(await collector.WaitForAsync(1));
        Assert.Equal("/slow/700/reset-before-response", span.Path);
        Assert.Equal(0, span.StatusCode);
        Assert.Equal(SpanEndReason.NoResponse, span.EndReason);
        Assert.Equal(0, span.ResponseBytes);
        Assert.Equal(request.Length, span.RequestBytes);
        Assert.Equal(clientPort, span.PeerPort);
        Assert.Equal(server.Pid, span.ProcessId);
        await AssertNoStateAndStillTracingAsync(tracer, collector, server, spansSoFar: 1);
    }

    [BpfFact]
    public async Task APipelinedBatchResetBeforeAnyResponseIsOneNoResponseSpanPerRequest()
    {
        using ServerProcess server = StartServer("python_server.py");
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        // Three requests in one write: the server's first read takes them all (the first is
        // current, two wait in the kernel's per-connection queue); none is ever answered.
        string[] paths = ["/slow/700/first", "/hello/second", "/hello/third"];
        using (Socket socket = Connect(server.Port))
        {
            socket.Send(paths.SelectMany(p => Request(server.Port, p)).ToArray());
            await WaitForConnectionStateAsync(server.Pid);
            Assert.Equal(2, KernelObjects.OwnMapKeyWords("queued_requests").Count(t => t == server.Pid));
            Reset(socket);
        }

        List<HttpSpan> spans = await collector.WaitForAsync(3);
        Assert.Equal(paths, spans.Select(s => s.Path));
        Assert.All(spans, s => Assert.Equal((0, SpanEndReason.NoResponse, 0L), (s.StatusCode, s.EndReason, s.ResponseBytes)));
        Assert.All(spans, (s, i) => Assert.Equal(Request(server.Port, paths[i]).Length, s.RequestBytes));
        await AssertNoStateAndStillTracingAsync(tracer, collector, server, spansSoFar: 3);
    }

    [BpfFact]
    public async Task AServerResetMidResponseIsItsStatusAndTheBytesItWrote()
    {
        using ServerProcess server = StartServer("reset_server.py");
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        const int bodyWritten = 4000; // of the 8,000 announced
        byte[] request = Request(server.Port, $"/reset-mid/{bodyWritten}");
        int headLength = $"HTTP/1.1 200 OK\r\nContent-Length: {2 * bodyWritten}\r\n\r\n".Length;
        long received = 0;
        SocketError? ended = null;
        using (Socket socket = Connect(server.Port))
        {
            socket.Send(request);
            byte[] buffer = new byte[65536];
            try
            {
                int n;
                while ((n = socket.Receive(buffer)) > 0)
                    received += n;
            }
            catch (SocketException ex)
            {
                ended = ex.SocketErrorCode;
            }
        }
        Assert.Equal(SocketError.ConnectionReset, ended); // a reset, not an orderly close
        Assert.Equal(headLength + bodyWritten, received);

        HttpSpan span = Assert.Single(await collector.WaitForAsync(1));
        Assert.Equal($"/reset-mid/{bodyWritten}", span.Path);
        Assert.Equal(200, span.StatusCode);
        Assert.Equal(SpanEndReason.ConnectionClosed, span.EndReason);
        Assert.Equal(headLength + bodyWritten, span.ResponseBytes);
        Assert.Equal(request.Length, span.RequestBytes);
        await AssertNoStateAndStillTracingAsync(tracer, collector, server, spansSoFar: 1);
    }

    [BpfFact]
    public async Task AClientResetMidResponseIsTheStatusAndWhatTheServerManagedToWrite()
    {
        using ServerProcess server = StartServer("python_server.py");
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        // 20 MB does not fit in the socket buffers: the server is blocked in its write when the
        // reset comes, and the write returns what it had copied.
        const int size = 20_000_000;
        byte[] request = Request(server.Port, $"/big/{size}");
        long received = 0;
        using (Socket socket = Connect(server.Port))
        {
            socket.ReceiveBufferSize = 64 * 1024;
            socket.Send(request);
            byte[] buffer = new byte[16 * 1024];
            while (received < 64 * 1024)
                received += socket.Receive(buffer);
            Reset(socket);
        }

        HttpSpan span = Assert.Single(await collector.WaitForAsync(1));
        Assert.Equal($"/big/{size}", span.Path);
        Assert.Equal(200, span.StatusCode);
        Assert.Equal(SpanEndReason.ConnectionClosed, span.EndReason);
        Assert.Equal(request.Length, span.RequestBytes);
        Assert.InRange(span.ResponseBytes, received, size - 1); // at least what the client read; not the whole body
        await AssertNoStateAndStillTracingAsync(tracer, collector, server, spansSoFar: 1);
    }

    [BpfFact]
    public async Task AClientResetAfterFullResponsesLeavesExactlyTheirSpans()
    {
        using ServerProcess server = StartServer("python_server.py");
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        var sent = new List<(string Path, int Status, long Bytes)>();
        using (Socket socket = Connect(server.Port))
        {
            for (int i = 0; i < 3; i++)
            {
                string path = i == 1 ? "/status/503/after" : $"/hello/after/{i}";
                socket.Send(Request(server.Port, path));
                (int status, long bytes) = ReadResponse(socket);
                sent.Add((path, status, bytes));
            }
            Reset(socket); // the server is waiting for the next request on this connection
        }
        Assert.Equal([200, 503, 200], sent.Select(s => s.Status));

        List<HttpSpan> spans = await collector.WaitForAsync(3);
        Assert.Equal(sent, spans.Select(s => (s.Path, s.StatusCode, s.ResponseBytes)));
        Assert.All(spans, s => Assert.Equal(SpanEndReason.ResponseComplete, s.EndReason));
        await AssertNoStateAndStillTracingAsync(tracer, collector, server, spansSoFar: 3);
    }

    private static ServerProcess StartServer(string script)
    {
        int port = FreePort.Next();
        return ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, script), port.ToString(CultureInfo.InvariantCulture)], port);
    }

    private static Socket Connect(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(IPAddress.Loopback, port);
        return socket;
    }

    private static byte[] Request(int port, string path) => Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");

    /// <summary>SO_LINGER 0, then close: the kernel sends a reset instead of a FIN.</summary>
    private static void Reset(Socket socket)
    {
        socket.LingerState = new LingerOption(true, 0);
        socket.Close();
    }

    /// <summary>Reads one response with a Content-Length; returns its status and size on the wire.</summary>
    private static (int Status, long Bytes) ReadResponse(Socket socket)
    {
        var data = new List<byte>();
        byte[] buffer = new byte[8192];
        int headEnd = -1;
        int length = 0;
        while (headEnd < 0 || data.Count < headEnd + length)
        {
            int n = socket.Receive(buffer);
            if (n == 0)
                throw new IOException("the server closed the connection mid-response");
            data.AddRange(buffer.AsSpan(0, n));
            if (headEnd < 0)
            {
                string text = Encoding.ASCII.GetString(data.ToArray());
                int blank = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (blank >= 0)
                {
                    headEnd = blank + 4;
                    string header = text[..blank].Split("\r\n").Single(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                    length = int.Parse(header["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
        return (int.Parse(Encoding.ASCII.GetString(data.ToArray(), 9, 3), CultureInfo.InvariantCulture), data.Count);
    }

    /// <summary>Waits until the tracer's kernel state has a connection of <paramref name="pid"/>: it has read a request.</summary>
    private static async Task WaitForConnectionStateAsync(int pid)
    {
        var deadline = Stopwatch.StartNew();
        while (!KernelObjects.OwnMapKeyWords("connections").Contains(pid))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the server never read the request");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Nothing was counted lost, no connection or queued request of the server is left in the
    /// kernel, and a new request is the next span, exactly.
    /// </summary>
    private static async Task AssertNoStateAndStillTracingAsync(BeylaTracer tracer, SpanCollector collector, ServerProcess server, int spansSoFar)
    {
        Assert.Equal(0, tracer.Statistics.EventsLostInSources);
        Assert.DoesNotContain(server.Pid, KernelObjects.OwnMapKeyWords("connections"));
        Assert.DoesNotContain(server.Pid, KernelObjects.OwnMapKeyWords("queued_requests"));

        using (Socket socket = Connect(server.Port))
        {
            socket.Send(Request(server.Port, "/hello/afterwards"));
            Assert.Equal(200, ReadResponse(socket).Status);
        }
        List<HttpSpan> all = await collector.WaitForAsync(spansSoFar + 1);
        Assert.Equal(spansSoFar + 1, all.Count);
        Assert.Equal(("/hello/afterwards", 200, SpanEndReason.ResponseComplete), (all[^1].Path, all[^1].StatusCode, all[^1].EndReason));
        Assert.Equal(0, tracer.Statistics.EventsLostInSources);
    }
}
