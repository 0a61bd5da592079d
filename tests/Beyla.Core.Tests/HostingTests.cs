using Beyla.Hosting;
using Beyla.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Beyla.Tests;

public sealed class HostingTests
{
    [Fact]
    public async Task HostedTracerRunsForTheHostsLifetime()
    {
        var source = new FakeEventSource();
        var sink = new CollectingSink();
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Services.AddBeyla(beyla => beyla.WithEventSource(source).AddSink(sink));
        using IHost host = builder.Build();
        var hosted = host.Services.GetRequiredService<BeylaHostedService>();
        Assert.Null(hosted.Tracer);

        await host.StartAsync();
        BeylaTracer? tracer = await hosted.Started.WaitAsync(TestTimeouts.Default);
        Assert.NotNull(tracer);
        Assert.Same(tracer, hosted.Tracer);
        for (int i = 0; i < 20; i++)
            source.Add(TestSpans.Numbered(i));
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);
        await host.StopAsync();

        Assert.Equal(20, sink.Spans.Count);
        Assert.Null(hosted.Tracer);
        Assert.Throws<ObjectDisposedException>(() => tracer.Spans());
    }

    [Fact]
    public async Task AStartFailureIsReportedAndTheAppRunsUntraced()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Services.AddBeyla(beyla => beyla.WithEventSource(_ => throw new BeylaException("no CAP_BPF")));
        using IHost host = builder.Build();
        await host.StartAsync();
        var hosted = host.Services.GetRequiredService<BeylaHostedService>();
        Assert.Null(await hosted.Started.WaitAsync(TestTimeouts.Default));
        Assert.Contains("no CAP_BPF", hosted.StartFailure?.Message, StringComparison.Ordinal);
        await host.StopAsync();
    }

    [Fact]
    public async Task AStartFailureCanFailTheHost()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder();
        builder.Services.AddBeyla(beyla => beyla.WithEventSource(_ => throw new BeylaException("no CAP_BPF")), o => o.FailHostOnStartError = true);
        using IHost host = builder.Build();
        var ex = await Assert.ThrowsAsync<BeylaException>(() => host.StartAsync());
        Assert.Contains("no CAP_BPF", ex.Message, StringComparison.Ordinal);
    }
}
