using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Beyla.Bpf.Tests;

/// <summary>Faults and bad input against the real kernel: nothing crashes, hangs, leaks or is reported wrongly.</summary>
public sealed class FaultTests
{
    [BpfFact]
    public async Task NonHttpTrafficOnATracedSocketIsNeverAnHttpSpan()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "raw_server.py"), port.ToString(CultureInfo.InvariantCulture)], port);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        var random = new Random(31);
        byte[] binary = new byte[4096];
        random.NextBytes(binary);
        byte[] clientHello = [0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, .. Enumerable.Range(0, 160).Select(i => (byte)random.Next(256))];
        byte[][] payloads =
        [
            "*1\r\n$4\r\nPING\r\n"u8.ToArray(),                      // Redis
            "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"u8.ToArray(),
            clientHello,                                           // TLS bytes, no TLS probe in the way
            binary,                                                // random binary
            "GETX / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(),      // HTTP-like garbage
            "get / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(),
            "GET\r\n\r\n"u8.ToArray(),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), // a response where a request belongs
            "SSH-2.0-OpenSSH_9.2\r\n"u8.ToArray(),
        ];
        foreach (byte[] payload in payloads)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Connect(IPAddress.Loopback, port);
            for (int round = 0; round < 3; round++)
            {
                socket.Send(payload);
                byte[] reply = new byte[64];
                Assert.True(socket.Receive(reply) > 0);
            }
        }
        // Then one real request: the tracer was watching all along.
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            socket.Connect(IPAddress.Loopback, port);
            socket.Send("GET /real HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            byte[] reply = new byte[256];
            int n = socket.Receive(reply);
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(reply, 0, n), StringComparison.Ordinal);
        }

        // WaitForAsync waits for the real request, then a quiet period in which anything else would arrive.
        HttpSpan real = Assert.Single(await collector.WaitForAsync(1));
        Assert.Equal("/real", real.Path);
        Assert.Equal(200, real.StatusCode);
    }

    [BpfFact]
    public async Task AnOversizedRequestLineAndHeadIsOneSpanTruncatedAndMarked()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.StartPython(port);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);

        string path = "/hello/" + new string('a', 4000);
        string head = $"GET {path}?q=1 HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 40).Select(i => $"X-Filler-{i}: {new string('b', 200)}\r\n")) + "\r\n";
        byte[] request = Encoding.ASCII.GetBytes(head);
        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            socket.Connect(IPAddress.Loopback, port);
            socket.Send(request);
            byte[] reply = new byte[4096];
            int n = socket.Receive(reply);
            Assert.StartsWith("HTTP/1.", Encoding.ASCII.GetString(reply, 0, n), StringComparison.Ordinal);
        }

        HttpSpan span = Assert.Single(await collector.WaitForAsync(1));
        Assert.True(span.IsPathTruncated);
        Assert.StartsWith("/hello/aaaa", span.Path, StringComparison.Ordinal);
        Assert.True(path.StartsWith(span.Path, StringComparison.Ordinal), span.Path);
        Assert.True(span.Path.Length < path.Length);
        Assert.Null(span.QueryString);
        Assert.Equal(request.Length, span.RequestBytes);
        Assert.Equal("/hello/*", span.Route); // the heuristic: a segment longer than 32 characters
    }

    [BpfFact]
    public async Task AKilledHostLeavesNothingInTheKernel()
    {
        HashSet<int> programsBefore = KernelObjects.ProgramIds();
        HashSet<int> mapsBefore = KernelObjects.MapIds();
        using (var agent = new AgentProcess("--port", "1", "--quiet", "--duration", "120"))
        {
            await agent.WaitForReadyAsync();
            // the socket probe set's own (10 or more) and the TLS set's (2 with uprobe_multi links)
            int loaded = KernelObjects.ProgramIds().Except(programsBefore).Count();
            Assert.True(loaded >= 12, $"{loaded} programs loaded");
            agent.Kill(); // SIGKILL: no dispose, no cleanup code runs
            (int exitCode, _, _) = await agent.WaitForExitAsync();
            Assert.NotEqual(0, exitCode);
        }
        // The kernel drops the programs, links and maps with the last file descriptor.
        var deadline = Stopwatch.StartNew();
        while ((KernelObjects.ProgramIds().Except(programsBefore).Any() || KernelObjects.MapIds().Except(mapsBefore).Any()) && deadline.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(100);
        Assert.Empty(KernelObjects.ProgramIds().Except(programsBefore));
        Assert.Empty(KernelObjects.MapIds().Except(mapsBefore));
    }

    [BpfFact]
    public async Task DisposeUnderLoadReturnsAndLeavesNoThreadOrProgram()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.StartPython(port);
        HashSet<int> programsBefore = KernelObjects.ProgramIds();
        BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).WithHttpProbes().Build();
        var counting = tracer.Spans().GetAsyncEnumerator();
        using var stopLoad = new CancellationTokenSource();
        long sent = 0;
        Task[] load = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            using var client = new KeepAliveClient(port);
            while (!stopLoad.IsCancellationRequested)
            {
                client.Get("/hello/load");
                Interlocked.Increment(ref sent);
            }
        })).ToArray();
        try
        {
            while (Interlocked.Read(ref sent) < 200)
                await Task.Delay(20);
            Assert.True(await counting.MoveNextAsync()); // spans are flowing

            await tracer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            // The consumer still gets what was buffered before the stop, then the enumeration ends.
            long drained = 0;
            while (await counting.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)))
                drained++;
            Assert.True(drained <= Interlocked.Read(ref sent));
        }
        finally
        {
            stopLoad.Cancel();
            await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(30));
        }
        Assert.DoesNotContain("beyla-ringbuf", ThreadNames());
        var deadline = Stopwatch.StartNew();
        while (KernelObjects.ProgramIds().Except(programsBefore).Any() && deadline.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(100);
        Assert.Empty(KernelObjects.ProgramIds().Except(programsBefore));
    }

    private static string[] ThreadNames() =>
        Directory.GetDirectories("/proc/self/task").Select(t =>
        {
            try
            {
                return File.ReadAllText(Path.Combine(t, "comm")).Trim();
            }
            catch (IOException)
            {
                return "";
            }
        }).ToArray();
}
