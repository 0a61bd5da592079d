using System.Globalization;
using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>How often the TLS probe set reads the memory maps of the processes it traces.</summary>
public sealed class TlsSyncTests
{
    [BpfFact]
    public async Task AProcessMemoryMapIsReadWhenItIsFirstTracedAndThenEveryTenthSync()
    {
        int port = FreePort.Next();
        using ServerProcess first = ServerProcess.StartPython(port);
        int secondPort = FreePort.Next();
        using ServerProcess second = ServerProcess.StartPython(secondPort);
        SocketProbeSet? probes = null;
        await using BeylaTracer tracer = new BeylaBuilder()
            .TraceProcesses(p => p.ProcessId(first.Pid))
            .Configure(o => o.ProcessRescanInterval = TimeSpan.FromHours(1)) // no syncs but ours
            .WithEventSource(context => probes = new SocketProbeSet(context))
            .Build();
        TlsProbeSet tls = probes!.Tls!;

        Assert.Equal((1, 1), tls.SyncCounts); // Build's sync: the first process is new
        tls.Sync([first.Pid]);
        Assert.Equal((2, 1), tls.SyncCounts);
        Assert.DoesNotContain(second.Pid, tls.ProbedProcessIds);

        tls.Sync([first.Pid, second.Pid]); // the second is new: read, and probed at once
        Assert.Equal((3, 2), tls.SyncCounts);
        Assert.Contains(second.Pid, tls.ProbedProcessIds);

        for (int sync = 4; sync <= TlsProbeSet.FullCheckEvery; sync++)
            tls.Sync([first.Pid, second.Pid]);
        Assert.Equal((TlsProbeSet.FullCheckEvery, 2), tls.SyncCounts);
        tls.Sync([first.Pid, second.Pid]); // every tenth: both read again
        Assert.Equal((TlsProbeSet.FullCheckEvery + 1, 4), tls.SyncCounts);

        tls.Sync([first.Pid]); // no longer traced: its probes go
        Assert.Equal([first.Pid], tls.ProbedProcessIds);
    }
}
