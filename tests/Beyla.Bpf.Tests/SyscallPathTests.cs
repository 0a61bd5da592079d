using System.Globalization;

namespace Beyla.Bpf.Tests;

/// <summary>
/// A client span whatever pair of syscalls moves the bytes (the server: Kestrel), also when
/// the request's first buffer alone is too short to tell a request (":N": split after N bytes),
/// or its request line comes a byte per buffer (":bytesN": the first N bytes),
/// or its page (or the page it ends in) is not in memory until the write brings it in; a write
/// that fails sends no request, and a request written in short writes is counted whole. Each
/// case runs with the hooks this kernel has (the socket layer's tracepoints) and with the
/// syscall tracepoints that older kernels fall back to (BEYLA_SYSCALL_HOOKS=1).
/// </summary>
public sealed class SyscallPathTests
{
    private static readonly (string Mode, string Path, int Status)[] Cases =
    [
        ("write-read", "/status/404", 404),
        ("sendto-recvfrom", "/status/404", 404),
        ("writev-readv", "/status/404", 404),
        ("sendmsg-recvmsg", "/status/404", 404),
        ("writev-readv:3", "/status/404", 404),
        ("sendmsg-recvmsg:1", "/status/404", 404),
        ("writev-readv:bytes30", "/status/404", 404),
        ("sendmsg-recvmsg:bytes30", "/status/404", 404),
        ("mmap-send-recv", "/status/404", 404),
        ("mmap-straddle-send-recv", "/status/404", 404),
        ("failed-send-then-send-recv", "/status/404", 404),
        ("nonblocking-post", "/echo", 200),
    ];

    public static TheoryData<string, string, int, bool> CasesWithBothHookSets()
    {
        var data = new TheoryData<string, string, int, bool>();
        foreach (bool syscallHooks in new[] { false, true })
        {
            foreach ((string mode, string path, int status) in Cases)
                data.Add(mode, path, status, syscallHooks);
        }
        return data;
    }

    [BpfTheory]
    [MemberData(nameof(CasesWithBothHookSets))]
    public async Task EachSyscallPairGivesOneExactClientSpan(string mode, string path, int status, bool syscallHooks)
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("dotnet", [TestEnvironment.KestrelServerDll, "--urls", $"http://127.0.0.1:{port}"], port);
        using GatedClient client = await GatedClient.StartAsync("python3", "syscall_client.py", port.ToString(CultureInfo.InvariantCulture), path, mode);
        await using BeylaTracer tracer = HookChoice.Build(new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Pid)).WithHttpProbes(), syscallHooks);
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
