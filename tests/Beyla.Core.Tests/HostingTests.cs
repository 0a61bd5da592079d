using System.Diagnostics;
using System.Diagnostics.Metrics;
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

    [Fact]
    public async Task TheCorrelatorJoinsASpanWithItsHandlerActivityAndRecordsTheQueueTime()
    {
        string source = "HostingTests.Handlers." + Guid.NewGuid().ToString("N");
        using var handlers = new ActivitySource(source);
        using var correlator = new HandlerTimingCorrelator(source);
        var recorded = new List<double>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == HandlerTimingCorrelator.MeterName && instrument.Name == HandlerTimingCorrelator.QueueTimeMetric)
                    l.EnableMeasurementEvents(instrument);
            },
        };
        meters.SetMeasurementEventCallback<double>((_, value, _, _) =>
        {
            lock (recorded)
                recorded.Add(value);
        });
        meters.Start();

        // The request arrives; 30 ms later its handler runs for about 5 ms; the response ends 40 ms after arrival.
        // The bounds are what this thread measured around each step: a busy machine (other tests
        // starving the thread pool) can stretch the delays, and must not fail the test.
        long arrival = Stopwatch.GetTimestamp();
        await Task.Delay(30);
        TimeSpan queuedAtLeast = Stopwatch.GetElapsedTime(arrival);
        TimeSpan queuedAtMost;
        TimeSpan handledAtMost;
        using (Activity? handler = handlers.StartActivity("handler"))
        {
            queuedAtMost = Stopwatch.GetElapsedTime(arrival);
            Assert.NotNull(handler);
            handler.SetTag(HandlerTimingCorrelator.ClientPortTag, 5555);
            await Task.Delay(5);
            handledAtMost = Stopwatch.GetElapsedTime(arrival) - queuedAtLeast;
        }
        var fake = new FakeEventSource();
        await using (BeylaTracer tracer = new BeylaBuilder().WithEventSource(fake).AddSink(correlator).Build())
        {
            fake.Add(new HttpSpan
            {
                Method = "GET", Path = "/work", StatusCode = 200, ProcessId = Environment.ProcessId, PeerPort = 5555,
                StartTimestamp = arrival, DurationNanoseconds = (long)(Stopwatch.GetElapsedTime(arrival).TotalMilliseconds * 1e6) + 1_000_000,
            });
            fake.Add(new HttpSpan { Method = "GET", Path = "/other", StatusCode = 200, ProcessId = Environment.ProcessId, PeerPort = 6666 });
            fake.Complete();
            await tracer.Completion.WaitAsync(TestTimeouts.Default);
        }

        Assert.Equal(1, correlator.Matched);
        Assert.Equal(1, correlator.UnmatchedSpans);
        RequestTiming timing = await correlator.ReadAllAsync().FirstAsync();
        // Activities are timed by the wall clock, spans by the monotonic one: allow 5 ms between them.
        Assert.InRange(timing.QueueTime.TotalMilliseconds, queuedAtLeast.TotalMilliseconds - 5, queuedAtMost.TotalMilliseconds + 5);
        Assert.InRange(timing.HandlerDuration.TotalMilliseconds, 4, handledAtMost.TotalMilliseconds + 5);
        Assert.True(timing.ResponseTime > timing.QueueTime + timing.HandlerDuration);
        lock (recorded)
            Assert.Equal(timing.QueueTime.TotalSeconds, Assert.Single(recorded), 6);
    }
}
