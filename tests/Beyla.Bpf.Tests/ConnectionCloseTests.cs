using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Beyla.Bpf.Tests;

/// <summary>
/// A response with no length (HTTP/1.0) ends when the connection closes. The server shuts its
/// socket down for writing before it closes it, and the client closes when it has read to the end:
/// with the socket hooks both closes are seen from the socket's state changes, with the syscall
/// hooks from close() itself. One server span and one client span, each ended by the close, with
/// the status and the bytes, inside what the client measured.
/// </summary>
public sealed class ConnectionCloseTests
{
    private const int BodyBytes = 5000;

    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AResponseEndedByTheCloseIsOneSpanOnEachSide(bool syscallHooks)
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "raw_server.py"), port.ToString(CultureInfo.InvariantCulture)], port);
        await using BeylaTracer tracer = HookChoice.Build(new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid).Current()).WithHttpProbes(), syscallHooks);
        await using var collector = new SpanCollector(tracer);

        string path = $"/unframed/{BodyBytes}";
        byte[] request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
        long before, after;
        int received = 0;
        int clientPort;
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            socket.Connect(IPAddress.Loopback, port);
            clientPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
            byte[] buffer = new byte[65536];
            before = Stopwatch.GetTimestamp();
            socket.Send(request);
            int n;
            while ((n = socket.Receive(buffer)) > 0)
                received += n;
            after = Stopwatch.GetTimestamp();
        }
        string head = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";
        Assert.Equal(head.Length + BodyBytes, received);

        List<HttpSpan> spans = await collector.WaitForAsync(2, s => s.Path == path);
        HttpSpan serverSpan = Assert.Single(spans, s => s.Kind == HttpSpanKind.Server);
        HttpSpan clientSpan = Assert.Single(spans, s => s.Kind == HttpSpanKind.Client);
        Assert.Equal((server.Pid, clientPort), (serverSpan.ProcessId, serverSpan.PeerPort));
        Assert.Equal((Environment.ProcessId, port), (clientSpan.ProcessId, clientSpan.PeerPort));
        foreach (HttpSpan span in spans)
        {
            Assert.Equal((200, SpanEndReason.ConnectionClosed, (long)received, (long)request.Length),
                (span.StatusCode, span.EndReason, span.ResponseBytes, span.RequestBytes));
            Assert.InRange(span.StartTimestamp, before, after);
            Assert.InRange(span.StartTimestamp + span.DurationNanoseconds * Stopwatch.Frequency / 1_000_000_000, before, after);
        }
        await Task.Delay(300);
        Assert.Equal(2, collector.Spans.Count(s => s.Path == path));
        Assert.Equal(0, tracer.Statistics.TotalLost);
    }

    /// <summary>
    /// The server closes while most of its response still waits in its send buffer for a client
    /// that does not read: the socket stays in FIN_WAIT1, far from its destruction, and the close
    /// itself (with the socket hooks: the state set again by close() after the shutdown) must end
    /// the span before the client takes the rest.
    /// </summary>
    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AServerSpanEndsAtTheCloseWhileTheClientHasNotReadTheResponse(bool syscallHooks)
    {
        const int body = 200_000;
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "raw_server.py"), port.ToString(CultureInfo.InvariantCulture)], port);
        await using BeylaTracer tracer = HookChoice.Build(new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes(), syscallHooks);
        await using var collector = new SpanCollector(tracer);

        string path = $"/lingering/{body}";
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.ReceiveBufferSize = 4096;
        socket.Connect(IPAddress.Loopback, port);
        socket.Send(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n"));

        HttpSpan span = Assert.Single(await collector.WaitForAsync(1));
        int head = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n".Length;
        Assert.Equal((path, 200, SpanEndReason.ConnectionClosed, (long)(head + body)), (span.Path, span.StatusCode, span.EndReason, span.ResponseBytes));
        Assert.True(socket.Available < body, $"the client had {socket.Available} bytes waiting: the response was not held up");

        // the client takes the rest; nothing more is reported
        byte[] buffer = new byte[65536];
        int received = 0, n;
        while ((n = socket.Receive(buffer)) > 0)
            received += n;
        Assert.Equal(head + body, received);
        await Task.Delay(300);
        Assert.Single(collector.Spans);
        Assert.Equal(0, tracer.Statistics.TotalLost);
    }
}
