using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>Spans written to the rings of different CPUs all arrive, in the order they ended.</summary>
public sealed class PerCpuRingTests
{
    [BpfFact]
    public async Task SpansFromServersOnDifferentCpusArriveAllAndInTheOrderTheyEnded()
    {
        Assert.True(Environment.ProcessorCount >= 2, "this test pins two servers to CPUs 0 and 1: it needs two CPUs");
        int port0 = FreePort.Next();
        int port1 = FreePort.Next();
        string script = Path.Combine(TestEnvironment.ServersDirectory, "python_server.py");
        using ServerProcess onCpu0 = ServerProcess.Start("taskset", ["-c", "0", "python3", script, port0.ToString(System.Globalization.CultureInfo.InvariantCulture)], port0);
        using ServerProcess onCpu1 = ServerProcess.Start("taskset", ["-c", "1", "python3", script, port1.ToString(System.Globalization.CultureInfo.InvariantCulture)], port1);
        SocketProbeSet? probes = null;
        await using BeylaTracer tracer = new BeylaBuilder()
            .TraceProcesses(p => p.ProcessId(onCpu0.Pid).ProcessId(onCpu1.Pid))
            .WithEventSource(context => probes = new SocketProbeSet(context))
            .Build();
        await using var collector = new SpanCollector(tracer);
        Assert.True(probes!.Rings.Count >= 2, $"one ring per online CPU: {probes.Rings.Count} rings");
        long[] before = probes.Rings.RecordsPerRing;

        // one request at a time, to each server in turn: span i ends before request i + 1 starts
        const int Requests = 40;
        for (int i = 0; i < Requests; i++)
            await OneShotRequest.SendAsync(i % 2 == 0 ? port0 : port1, $"/hello/cpu-order-{i}");

        List<HttpSpan> spans = await collector.WaitForAsync(Requests, s => s.Path.StartsWith("/hello/cpu-order-", StringComparison.Ordinal));
        Assert.Equal(Requests, spans.Count);
        Assert.Equal(Requests / 2, spans.Count(s => s.ProcessId == onCpu0.Pid));
        Assert.Equal(Requests / 2, spans.Count(s => s.ProcessId == onCpu1.Pid));
        // the rings of CPUs 0 and 1 (the first two, with CPUs 0-N online) each had one server's spans
        long[] after = probes.Rings.RecordsPerRing;
        Assert.True(after[0] - before[0] >= Requests / 2, $"ring of CPU 0: {after[0] - before[0]} records");
        Assert.True(after[1] - before[1] >= Requests / 2, $"ring of CPU 1: {after[1] - before[1]} records");
        // without the merge, a drain would hand out one ring's spans before the other's
        Assert.Equal(Enumerable.Range(0, Requests).Select(i => $"/hello/cpu-order-{i}"), spans.Select(s => s.Path));
    }
}
