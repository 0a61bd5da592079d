using System.Diagnostics;
using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>
/// The TLS probes of one traced process are uprobe_multi links where the kernel has them: a
/// perf-event uprobe for one process is a per-task perf event, which the kernel switches out and
/// in with the process at every context switch, and made a server that blocks between requests
/// pay about 3 µs more per request, TLS or not (benchmarks/README.md). BEYLA_PERF_UPROBES=1 keeps
/// the perf events (for comparison).
/// </summary>
public sealed class UprobeLinkTests
{
    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ATracedProcessGetsItsTlsProbesWithoutPerfEventsWhereTheKernelHasUprobeMultiLinks(bool perfUprobes)
    {
        using ServerProcess server = ServerProcess.StartPython(FreePort.Next());
        int before = PerfEventFds();
        // the probe set's own perf events (its regular tracepoints, for every process), without TLS
        int withoutTls;
        await using (BeylaTracer plain = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).Configure(o => o.TraceTls = false).WithHttpProbes().Build())
            withoutTls = PerfEventFds() - before;

        SocketProbeSet? probes = null;
        string? saved = Environment.GetEnvironmentVariable(TlsProbeSet.PerfUprobesVariable);
        Environment.SetEnvironmentVariable(TlsProbeSet.PerfUprobesVariable, perfUprobes ? "1" : null);
        BeylaTracer tracer;
        try
        {
            tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid))
                .WithEventSource(context => probes = new SocketProbeSet(context)).Build();
        }
        finally
        {
            Environment.SetEnvironmentVariable(TlsProbeSet.PerfUprobesVariable, saved);
        }
        await using (tracer)
        {
            var waited = Stopwatch.StartNew();
            while (!probes!.TlsProbedProcessIds.Contains(server.Pid) && waited.Elapsed < TimeSpan.FromSeconds(10))
                await Task.Delay(50);
            Assert.Contains(server.Pid, probes.TlsProbedProcessIds);

            bool multi = TlsProbeSet.KernelHasUprobeMultiLinks && !perfUprobes;
            Assert.Equal(multi, probes.Tls!.UsesUprobeMultiLinks);
            int forTls = PerfEventFds() - before - withoutTls;
            if (multi)
                Assert.Equal(0, forTls);
            else
                Assert.True(forTls >= 8, $"{forTls} perf events for the process's TLS probes (10 expected with the system's libssl)");
        }
    }

    private static int PerfEventFds() =>
        Directory.EnumerateFileSystemEntries("/proc/self/fd").Count(fd =>
        {
            try
            {
                return new FileInfo(fd).LinkTarget == "anon_inode:[perf_event]";
            }
            catch (IOException)
            {
                return false;
            }
        });
}
