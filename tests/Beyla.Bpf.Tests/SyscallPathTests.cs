using System.Globalization;

namespace Beyla.Bpf.Tests;

/// <summary>
/// A client span whatever pair of syscalls moves the bytes (the server: Kestrel), also when
/// the request's first buffer alone is too short to tell a request (":N": split after N bytes),
/// or its page (or the page it ends in) is not in memory until the write brings it in; a write
/// that fails sends no request, and a request written in short writes is counted whole.
/// </summary>
public sealed class SyscallPathTests
{
    [BpfTheory]
    [InlineData("write-read")]
    [InlineData("sendto-recvfrom")]
    [InlineData("writev-readv")]
    [InlineData("sendmsg-recvmsg")]
    [InlineData("writev-readv:3")]
    [InlineData("sendmsg-recvmsg:1")]
    [InlineData("mmap-send-recv")]
    [InlineData("mmap-straddle-send-recv")]
    [InlineData("failed-send-then-send-recv")]
    [InlineData("nonblocking-post", "/echo", 200)]
    public async Task EachSyscallPairGivesOneExactClientSpan(string mode, string path = "/status/404", int status = 404)
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("dotnet", [TestEnvironment.KestrelServerDll, "--urls", $"http://127.0.0.1:{port}"], port);
        using GatedClient client = await GatedClient.StartAsync("python3", "syscall_client.py", port.ToString(CultureInfo.InvariantCulture), path, mode);
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);
        long[] m = (await client.RunAsync()).Single().Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();

        HttpSpan span = Assert.Single(await collector.WaitForAsync(1, s => s.ProcessId == client.Pid));
        Assert.Equal(HttpSpanKind.Client, span.Kind);
        Assert.Equal(path, span.Path);
        Assert.Equal(status, span.StatusCode);
        Assert.Equal(m[0], span.StatusCode);
        Assert.Equal(m[1], span.RequestBytes);
        Assert.Equal(m[2], span.ResponseBytes);
        Assert.Equal(port, span.PeerPort);
        Assert.True(span.StartTimestamp >= m[3] && span.StartTimestamp + span.DurationNanoseconds <= m[4]);
    }
}
