using System.Globalization;
using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>How often the TLS probe set reads the memory maps of the processes it traces.</summary>
public sealed class TlsSyncTests
{
    [BpfFact]
    public async Task AProcessMemoryMapIsReadWhenItIsFirstTracedAndThenEveryTenthRescan()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.Start("python3", [Path.Combine(TestEnvironment.ServersDirectory, "python_server.py"), port.ToString(CultureInfo.InvariantCulture)], port);
        SocketProbeSet? probes = null;
        await using BeylaTracer tracer = new BeylaBuilder()
            .TraceProcesses(p => p.ProcessId(server.Pid))
            .Configure(o => o.ProcessRescanInterval = TimeSpan.FromMilliseconds(20))
            .WithEventSource(context => probes = new SocketProbeSet(context))
            .Build();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        (int syncs, int mapsRead) = probes!.TlsSyncCounts;
        while (syncs < 3 * TlsProbeSet.FullCheckEvery && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            (syncs, mapsRead) = probes.TlsSyncCounts;
        }

        Assert.True(syncs >= 3 * TlsProbeSet.FullCheckEvery, $"only {syncs} syncs in 30 s");
        // one process: read at the first sync (it is new), then at every tenth
        Assert.Equal(1 + (syncs - 1) / TlsProbeSet.FullCheckEvery, mapsRead);
        Assert.Contains(server.Pid, probes.TlsProbedProcessIds);
    }
}
