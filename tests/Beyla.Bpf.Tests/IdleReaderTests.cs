using System.Globalization;
using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>A reader with nothing to read sleeps, and the kernel wakes it with the next record.</summary>
public sealed class IdleReaderTests
{
    [BpfFact]
    public async Task AReaderAsleepForWantOfRecordsIsWokenByTheKernelWithTheNextOne()
    {
        int port = FreePort.Next();
        using ServerProcess server = ServerProcess.StartPython(port);
        SocketProbeSet? probes = null;
        await using BeylaTracer tracer = new BeylaBuilder()
            .TraceProcesses(p => p.ProcessId(server.Pid))
            .WithEventSource(context => probes = new SocketProbeSet(context))
            .Build();
        await using var collector = new SpanCollector(tracer);

        (int sleeps, int kernelWakes, int timedWakes) = await AsleepAsync(probes!, 0);
        Assert.True(sleeps > 0, "the reader never went to sleep with nothing to read");
        await OneShotRequest.SendAsync(port, "/hello/idle-1");
        Assert.Equal("/hello/idle-1", Assert.Single(await collector.WaitForAsync(1)).Path);
        Assert.Equal((kernelWakes + 1, timedWakes), (probes!.ReaderSleep.KernelWakes, probes.ReaderSleep.TimedWakes));

        // again, once the reader is asleep again
        (sleeps, kernelWakes, timedWakes) = await AsleepAsync(probes, sleeps);
        Assert.True(sleeps > 1, "the reader did not go to sleep again");
        await OneShotRequest.SendAsync(port, "/hello/idle-2");
        Assert.Equal(2, (await collector.WaitForAsync(2)).Count);
        Assert.Equal((kernelWakes + 1, timedWakes), (probes.ReaderSleep.KernelWakes, probes.ReaderSleep.TimedWakes));
    }

    private static async Task<(int Sleeps, int KernelWakes, int TimedWakes)> AsleepAsync(SocketProbeSet probes, int sleepsBefore)
    {
        DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (probes.ReaderSleep.Sleeps <= sleepsBefore && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        await Task.Delay(50); // it set the flag just before it counted the sleep: now it polls
        return probes.ReaderSleep;
    }
}
