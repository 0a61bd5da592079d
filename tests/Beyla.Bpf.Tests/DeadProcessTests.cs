using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Beyla.Bpf.Tests;

/// <summary>
/// A traced process killed mid-request. With the socket hooks the kernel closes its sockets as it
/// dies, and the request is one span without response, as at any close; with the syscall hooks no
/// close is seen, and the request is counted as lost. Either way its kernel state goes, its
/// sockets' entries included.
/// </summary>
public sealed class DeadProcessTests
{
    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AServerKilledMidRequestIsReportedAndLeavesNoState(bool syscallHooks)
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.StartPython(port);
        int pid = server.Pid;
        await using BeylaTracer tracer = HookChoice.Build(new BeylaBuilder().TraceProcesses(p => p.ProcessId(pid)).WithHttpProbes(), syscallHooks);
        await using var collector = new SpanCollector(tracer);

        // Connections that finished normally, then one whose request never gets its answer.
        using (var client = new KeepAliveClient(port))
        {
            for (int i = 0; i < 3; i++)
                Assert.Equal(200, client.Get($"/hello/{i}").Status);
        }
        Assert.Equal(3, (await collector.WaitForAsync(3)).Count);
        using var pending = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        pending.Connect(IPAddress.Loopback, port);
        pending.Send("GET /slow/20000 HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
        await Task.Delay(500);
        Assert.Contains(ConnectionTgids(), t => t == pid);

        Process.GetProcessById(pid).Kill(); // SIGKILL: the process closes nothing itself
        bool closeSeen = !syscallHooks && HookChoice.KernelHasSocketTracepoints;
        var deadline = Stopwatch.StartNew();
        while ((ConnectionTgids().Contains(pid) || (closeSeen ? collector.Spans.Count < 4 : tracer.Statistics.EventsLostInSources < 1)) &&
               deadline.Elapsed < TimeSpan.FromSeconds(15))
            await Task.Delay(200);

        Assert.DoesNotContain(pid, ConnectionTgids());
        // its socket's entry goes too: at the close, or with the sweep of dead processes
        while (KernelObjects.OwnMapValueWords("socket_conns").Contains(pid) && deadline.Elapsed < TimeSpan.FromSeconds(15))
            await Task.Delay(200);
        Assert.DoesNotContain(pid, KernelObjects.OwnMapValueWords("socket_conns"));
        if (closeSeen)
        {
            HttpSpan dead = collector.Spans[3];
            Assert.Equal(("/slow/20000", 0, SpanEndReason.NoResponse, pid), (dead.Path, dead.StatusCode, dead.EndReason, dead.ProcessId));
            Assert.Equal(0, tracer.Statistics.EventsLostInSources);
        }
        else
        {
            Assert.Equal(1, tracer.Statistics.EventsLostInSources);
        }
        Assert.Equal(closeSeen ? 4 : 3, collector.Spans.Count); // no other span for the dead request
    }

    /// <summary>The tgid of every entry of this test host's connections maps (not another tracer's).</summary>
    private static List<int> ConnectionTgids() => KernelObjects.OwnMapKeyWords("connections");
}
