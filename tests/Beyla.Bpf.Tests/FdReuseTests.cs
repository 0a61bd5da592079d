using System.Globalization;

namespace Beyla.Bpf.Tests;

/// <summary>
/// An fd that comes to hold another socket with no close() in between (dup2 over it): the
/// socket hooks see the socket itself, so the second request's span carries the connection it
/// really went out on, not the one the fd held before.
/// </summary>
public sealed class FdReuseTests
{
    [BpfFact]
    public async Task AnFdThatComesToHoldAnotherSocketGivesSpansOfTheNewConnection()
    {
        Assert.True(HookChoice.KernelHasSocketTracepoints, "this kernel (6.18) has the socket layer's tracepoints");
        int port1 = FreePort.Next();
        int port2 = FreePort.Next();
        using ServerProcess first = ServerProcess.StartPython(port1);
        using ServerProcess second = ServerProcess.StartPython(port2);
        using GatedClient client = await GatedClient.StartAsync("python3", "dup2_client.py",
            port1.ToString(CultureInfo.InvariantCulture), port2.ToString(CultureInfo.InvariantCulture));
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ProcessId(client.Pid)).WithHttpProbes().Build();
        await using var collector = new SpanCollector(tracer);
        string[] lines = await client.RunAsync();
        Assert.Equal([$"{port1} 200", $"{port2} 200"], lines);

        List<HttpSpan> spans = await collector.WaitForAsync(2, s => s.ProcessId == client.Pid);
        Assert.Equal([$"/hello/{port1}", $"/hello/{port2}"], spans.Select(s => s.Path));
        Assert.Equal([port1, port2], spans.Select(s => s.PeerPort));
        Assert.All(spans, s => Assert.Equal(HttpSpanKind.Client, s.Kind));
        Assert.All(spans, s => Assert.Equal(200, s.StatusCode));
    }
}
