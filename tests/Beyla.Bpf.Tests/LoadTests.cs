using System.Diagnostics;
using Xunit.Abstractions;

namespace Beyla.Bpf.Tests;

/// <summary>
/// Load against a traced nginx: every request is either a span or counted as lost, exactly,
/// for a minute at full speed, and when a sink or a consumer stalls.
/// </summary>
public sealed class LoadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("beyla-load-").FullName;
    private readonly ITestOutputHelper _output;

    public LoadTests(ITestOutputHelper output) => _output = output;

    private ServerProcess StartNginx()
    {
        int port = FreePort.Next();
        string conf = NginxConfig.Write(_dir, $$"""
                    listen 127.0.0.1:{{port}};
                    keepalive_requests 100000000;
                    location /hello/ { return 200 "hello from nginx\n"; }
            """);
        return ServerProcess.Start("nginx", ["-c", conf, "-p", _dir], port);
    }

    /// <summary>Clients on keep-alive connections, as fast as they go, until stopped; returns the requests that completed.</summary>
    private static Task<long> DriveAsync(int port, int clients, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(() =>
        {
            long done = 0;
            using var client = new KeepAliveClient(port);
            while (!stop.IsCancellationRequested)
            {
                if (client.Get($"/hello/{c}").Status != 200)
                    throw new InvalidOperationException("nginx did not answer 200");
                done++;
            }
            return done;
        }))).ContinueWith(t => t.Result.Sum(), TaskScheduler.Default);

    [BpfFact]
    public async Task SoakForAMinuteEveryRequestIsASpanOrCountedLost()
    {
        using ServerProcess nginx = StartNginx();
        long spans = 0;
        var sink = new CountingSink(() => Interlocked.Increment(ref spans));
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ListeningOn(nginx.Port)).WithHttpProbes().AddSink(sink).Build();

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Task<long> load = DriveAsync(nginx.Port, 4, stop.Token);
        var memory = new List<(double Seconds, long ManagedBytes, long WorkingSet)>();
        var clock = Stopwatch.StartNew();
        while (!load.IsCompleted)
        {
            await Task.Delay(5000);
            GC.Collect();
            using Process self = Process.GetCurrentProcess();
            memory.Add((clock.Elapsed.TotalSeconds, GC.GetTotalMemory(forceFullCollection: false), self.WorkingSet64));
        }
        long sent = await load;
        // Everything the kernel finished is handed over within a poll or two.
        var deadline = Stopwatch.StartNew();
        while (Interlocked.Read(ref spans) + tracer.Statistics.TotalLost < sent && deadline.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(50);

        TracerStatistics stats = tracer.Statistics;
        _output.WriteLine($"soak: {sent} requests in 60 s ({sent / 60.0:F0}/s), {spans} spans, {stats.TotalLost} lost");
        foreach ((double s, long managed, long ws) in memory)
            _output.WriteLine($"  {s,5:F0} s  managed {managed / 1048576.0,6:F1} MiB  working set {ws / 1048576.0,6:F1} MiB");
        Assert.Equal(sent, Interlocked.Read(ref spans) + stats.TotalLost);
        Assert.True(sent > 10_000, $"only {sent} requests");
        // Flat: after the first samples (JIT, pools warming), the managed heap does not keep growing.
        long early = memory.Skip(1).Take(2).Max(m => m.ManagedBytes);
        long late = memory.TakeLast(2).Max(m => m.ManagedBytes);
        Assert.True(late < early + 32 * 1048576, $"managed heap grew from {early / 1048576} MiB to {late / 1048576} MiB");
    }

    [BpfFact]
    public async Task AStalledSinkAndAStoppedConsumerLoseOnlyWhatTheyCountAndReadingResumes()
    {
        const int capacity = 20_000; // more than one drain of the ring hands out at once
        using ServerProcess nginx = StartNginx();
        long spans = 0;
        long fastSpans = 0;
        using var stalled = new ManualResetEventSlim(false);
        var sink = new CountingSink(() => Interlocked.Increment(ref spans), stall: stalled);
        var fast = new CountingSink(() => Interlocked.Increment(ref fastSpans));
        await using BeylaTracer tracer = new BeylaBuilder().TraceProcesses(p => p.ListeningOn(nginx.Port)).WithHttpProbes()
            .Configure(o =>
            {
                o.SinkBufferCapacity = capacity;
                o.ConsumerBufferCapacity = capacity;
            })
            .AddSink(sink).AddSink(fast).Build();
        await using IAsyncEnumerator<HttpSpan> consumer = tracer.Spans().GetAsyncEnumerator();
        long consumed = 0;

        // Phase 1: one sink blocks its first batch and the consumer reads nothing; load runs on.
        // The kernel must not block the server, the other sink gets everything, and what the
        // stalled sink and the consumer cannot hold is counted for each.
        long sent;
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(6)))
            sent = await DriveAsync(nginx.Port, 4, stop.Token);
        Assert.True(sent > 5_000, $"the server slowed to {sent} requests in 6 s while the sink was stalled");
        var deadline = Stopwatch.StartNew();
        while (Interlocked.Read(ref fastSpans) + tracer.Statistics.TotalLost < sent && deadline.Elapsed < TimeSpan.FromSeconds(20))
            await Task.Delay(50);
        TracerStatistics stats = tracer.Statistics;
        Assert.Equal(sent, Interlocked.Read(ref fastSpans) + stats.TotalLost);
        Assert.Equal(0, stats.TotalLost);
        // The stalled sink holds `capacity` spans (the batch it is stuck in included): the rest were dropped for it alone.
        Assert.Equal(sent - capacity, stats.SpansDroppedForSlowSinks);
        Assert.Equal(sent - capacity, stats.SpansDroppedForSlowConsumers);
        _output.WriteLine($"stalled: {sent} requests; the other sink {fastSpans} spans; dropped for the stalled sink {stats.SpansDroppedForSlowSinks}, for the consumer {stats.SpansDroppedForSlowConsumers}; lost {stats.TotalLost}");

        // Both resume: the sink and the consumer get what they held, then everything new.
        stalled.Set();
        while (consumed < capacity && await consumer.MoveNextAsync())
            consumed++;
        deadline.Restart();
        while (Interlocked.Read(ref spans) < capacity && deadline.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(20);
        Assert.Equal(capacity, Interlocked.Read(ref spans));

        // Phase 2: reading has resumed; new requests all arrive at both sinks and the consumer.
        long before = Interlocked.Read(ref spans);
        long fastBefore = Interlocked.Read(ref fastSpans);
        using (var client = new KeepAliveClient(nginx.Port))
        {
            for (int i = 0; i < 200; i++)
                Assert.Equal(200, client.Get("/hello/after").Status);
        }
        for (int i = 0; i < 200; i++)
        {
            Assert.True(await consumer.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal("/hello/after", consumer.Current.Path);
        }
        var wait = Stopwatch.StartNew();
        while ((Interlocked.Read(ref spans) - before < 200 || Interlocked.Read(ref fastSpans) - fastBefore < 200) && wait.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(20);
        Assert.Equal(200, Interlocked.Read(ref spans) - before);
        Assert.Equal(200, Interlocked.Read(ref fastSpans) - fastBefore);
        TracerStatistics after = tracer.Statistics;
        Assert.Equal(stats.SpansDroppedForSlowSinks, after.SpansDroppedForSlowSinks);
        Assert.Equal(stats.SpansDroppedForSlowConsumers, after.SpansDroppedForSlowConsumers);
        Assert.Equal(0, after.TotalLost);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class CountingSink(Action count, ManualResetEventSlim? stall = null) : ISpanSink
    {
        public void Export(ReadOnlySpan<HttpSpan> spans)
        {
            stall?.Wait();
            foreach (HttpSpan _ in spans)
                count();
        }
    }
}
