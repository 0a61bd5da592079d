using System.Diagnostics;

namespace Beyla.Bpf.Tests;

/// <summary>Building attaches the socket probe set; disposing leaves nothing of ours in the kernel.</summary>
public sealed class TracerLifecycleTests
{
    [BpfFact]
    public async Task DisposeLeavesNoProgramOrMapInTheKernel()
    {
        HashSet<int> programsBefore = KernelObjects.ProgramIds();
        HashSet<int> mapsBefore = KernelObjects.MapIds();

        BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.Current()).WithHttpProbes().Build();
        HashSet<int> programsDuring = KernelObjects.ProgramIds();
        HashSet<int> mapsDuring = KernelObjects.MapIds();
        // the socket probe set's own (10 or more) and the TLS set's (2 with uprobe_multi links)
        Assert.True(programsDuring.Except(programsBefore).Count() >= 12, $"{programsDuring.Except(programsBefore).Count()} programs attached");
        Assert.True(mapsDuring.Except(mapsBefore).Count() >= 5, $"{mapsDuring.Except(mapsBefore).Count()} maps created");

        await tracer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        // The kernel frees programs and maps once their last reference goes, partly from a
        // work queue: allow it a moment.
        var deadline = Stopwatch.StartNew();
        while ((KernelObjects.ProgramIds().Except(programsBefore).Any() || KernelObjects.MapIds().Except(mapsBefore).Any()) && deadline.Elapsed < TimeSpan.FromSeconds(5))
            await Task.Delay(100);
        Assert.Empty(KernelObjects.ProgramStats().Where(p => !programsBefore.Contains(p.Key)).Select(p => $"{p.Key}:{p.Value.Name}"));
        Assert.Empty(KernelObjects.MapIds().Except(mapsBefore));
    }

    [BpfFact]
    public async Task SpansStopAndEnumerationEndsWhenTheTracerIsDisposed()
    {
        BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.Current()).WithHttpProbes().Build();
        IAsyncEnumerator<HttpSpan> spans = tracer.Spans().GetAsyncEnumerator();
        ValueTask<bool> next = spans.MoveNextAsync();
        await tracer.DisposeAsync();
        Assert.False(await next.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
        await spans.DisposeAsync();
    }

    [BpfFact]
    public async Task BuildMountsTracefsWhenItIsMissing()
    {
        const string tracefs = "/sys/kernel/tracing";
        // With debugfs mounted, the kernel mounts tracefs under it on first use: then tracefs is
        // never missing, and the library uses that one (the machines of CI have no debugfs).
        bool underDebugFs = Directory.Exists("/sys/kernel/debug/tracing/events");
        if (Directory.Exists(Path.Combine(tracefs, "events")))
            Assert.Equal(0, Run("umount", tracefs));
        Assert.False(Directory.Exists(Path.Combine(tracefs, "events")));

        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.Current()).WithHttpProbes().Build();
        Assert.True(underDebugFs
            ? Directory.Exists("/sys/kernel/debug/tracing/events/syscalls")
            : Directory.Exists(Path.Combine(tracefs, "events", "syscalls")));
    }

    private static int Run(string file, params string[] args)
    {
        using Process p = Process.Start(file, args);
        p.WaitForExit();
        return p.ExitCode;
    }
}
