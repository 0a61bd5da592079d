using System.Diagnostics;
using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>
/// The TLS probes of one traced process are uprobe_multi links where the kernel has them: a
/// perf-event uprobe for one process is a per-task perf event, which the kernel switches out and
/// in with the process at every context switch, and made a server that blocks between requests
/// pay about 4.5 µs of CPU more per request, TLS or not (benchmarks/README.md); and a process's links are
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
        await using (BeylaTracer tracer = HookChoice.BuildTls(new BeylaBuilder().TraceProcesses(p => p.ProcessId(server.Pid))
            .WithEventSource(context => probes = new SocketProbeSet(context)), perfUprobes))
        {
            var waited = Stopwatch.StartNew();
            while (!probes!.TlsProbedProcessIds.Contains(server.Pid) && waited.Elapsed < TimeSpan.FromSeconds(10))
                await Task.Delay(50);
            Assert.Contains(server.Pid, probes.TlsProbedProcessIds);

            if (HookChoice.KernelHasProcessFilteredUprobeMultiLinks)
                Assert.Equal(!perfUprobes, probes.Tls!.UsesUprobeMultiLinks);
            bool links = probes.Tls!.UsesUprobeMultiLinks;
            // the system's libssl: its probed functions' entries and returns, but SSL_set0_wbio's
            // entry alone (SSL_do_handshake, SSL_set0_wbio, and SSL_read, SSL_read_ex, SSL_write and
            // SSL_write_ex, or the two functions they call: TlsTests)
            Dictionary<string, ulong> probed = probes.Tls.ProbedFiles(server.Pid).SelectMany(probes.Tls.ProbeOffsetsOf).ToDictionary();
            Assert.Contains("SSL_set0_wbio", probed.Keys);
            Assert.True(probed.Count is 4 or 6, string.Join(", ", probed.Keys));
            int perfEventProbes = 2 * probed.Count - 1;
            Assert.Equal(links ? 2 : perfEventProbes, probes.Tls.LinkCount(server.Pid));
            int perfEventsForTls = KernelObjects.OwnPerfEventFds() - before.perfEvents - withoutTls.perfEvents;
            int attachmentsForTls = KernelObjects.OwnAttachmentFds() - before.attachments - withoutTls.attachments;
            if (links)
            {
                // none for the probes; the libssl load hook that comes with TLS is one with the syscall hooks (enter_openat)
                Assert.True(perfEventsForTls <= (HookChoice.KernelHasSocketTracepoints ? 0 : 1), $"{perfEventsForTls} perf events with TLS");
                Assert.True(attachmentsForTls >= 2, $"{attachmentsForTls} attachments for the process's TLS probes");
            }
            else
            {
                Assert.True(perfEventsForTls >= perfEventProbes, $"{perfEventsForTls} perf events for the process's TLS probes ({perfEventProbes} expected)");
            }
        }
    }
}
