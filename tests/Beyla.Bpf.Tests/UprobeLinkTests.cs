using System.Diagnostics;
using System.Globalization;
using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>
/// The TLS probes of one traced process are uprobe_multi links where the kernel has them: a
/// perf-event uprobe for one process is a per-task perf event, which the kernel switches out and
/// in with the process at every context switch, and made a server that blocks between requests
/// pay about 3 µs more per request, TLS or not (benchmarks/README.md); and a process's links are
/// two per file (entries and returns) where perf events are ten. BEYLA_PERF_UPROBES=1 keeps the
/// perf events (for comparison).
/// </summary>
public sealed class UprobeLinkTests
{
    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ATracedProcessGetsItsTlsProbesWithoutPerfEventsWhereTheKernelHasUprobeMultiLinks(bool perfUprobes)
    {
        using ServerProcess server = ServerProcess.StartPython(FreePort.Next());
        (int perfEvents, int attachments) before = (KernelObjects.OwnPerfEventFds(), KernelObjects.OwnAttachmentFds());
        // the probe set's own perf events and links (its tracepoints, for every process), without TLS
        (int perfEvents, int attachments) withoutTls;
        await using (BeylaTracer plain = new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid)).Configure(o => o.TraceTls = false).WithHttpProbes().Build())
            withoutTls = (KernelObjects.OwnPerfEventFds() - before.perfEvents, KernelObjects.OwnAttachmentFds() - before.attachments);

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

            // the kernel's own word for its version, not the runtime's: 6.6 on has the links
            string[] release = File.ReadAllText("/proc/sys/kernel/osrelease").Split('.', '-');
            bool kernelHasLinks = new Version(int.Parse(release[0], CultureInfo.InvariantCulture), int.Parse(release[1], CultureInfo.InvariantCulture)) >= new Version(6, 6);
            Assert.Equal(kernelHasLinks, TlsProbeSet.KernelHasUprobeMultiLinks);
            bool multi = kernelHasLinks && !perfUprobes;
            Assert.Equal(multi, probes.Tls!.UsesUprobeMultiLinks);
            int perfEventsForTls = KernelObjects.OwnPerfEventFds() - before.perfEvents - withoutTls.perfEvents;
            int attachmentsForTls = KernelObjects.OwnAttachmentFds() - before.attachments - withoutTls.attachments;
            if (multi)
            {
                Assert.Equal(0, perfEventsForTls);
                // two links per file (entries, returns); one more link is the libssl load hook, attached with TLS only
                Assert.True(attachmentsForTls >= 2, $"{attachmentsForTls} links for the process's TLS probes (2 expected for the system's libssl)");
            }
            else
            {
                // libbpf holds a perf event for each probe (and, on this kernel, a BPF link over it)
                Assert.True(perfEventsForTls >= 8, $"{perfEventsForTls} perf events for the process's TLS probes (10 expected with the system's libssl)");
            }
        }
    }
}
