using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Beyla.Implementation;
using Beyla.Tests.Support;

namespace Beyla.Tests;

public sealed class TracerPipelineTests
{
    private static BeylaTracer Build(FakeEventSource source, Action<BeylaOptions>? configure = null, params ISpanSink[] sinks)
    {
        var builder = new BeylaBuilder().WithEventSource(source);
        foreach (ISpanSink sink in sinks)
            builder.AddSink(sink);
        if (configure is not null)
            builder.Configure(configure);
        return builder.Build();
    }

    private static void AssertInOrder(IReadOnlyList<HttpSpan> spans, int count)
    {
        Assert.Equal(count, spans.Count);
        for (int i = 0; i < count; i++)
        {
            if (spans[i].Path != $"/items/{i}")
                Assert.Fail($"span {i} has path {spans[i].Path}");
        }
    }

    [Fact]
    public async Task TenThousandSpansArriveInOrderAtConsumerAndSink()
    {
        const int count = 10_000;
        var source = new FakeEventSource();
        var sink = new CollectingSink();
        await using BeylaTracer tracer = Build(source, null, sink);
        SpanCollector consumer = SpanCollector.Start(tracer.Spans());

        for (int i = 0; i < count; i++)
            source.Add(TestSpans.Numbered(i));
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);
        await consumer.Completion.WaitAsync(TestTimeouts.Default);

        AssertInOrder(consumer.Spans, count);
        AssertInOrder(sink.Spans, count);
        HttpSpan last = consumer.Spans[^1];
        Assert.Equal(TestSpans.Numbered(count - 1).ResponseBytes, last.ResponseBytes);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), last.PeerAddress);
        TracerStatistics stats = tracer.Statistics;
        Assert.Equal(count, stats.SpansDecoded);
        Assert.Equal(0, stats.MalformedRecords);
        Assert.Equal(0, stats.SpansDroppedForSlowConsumers);
        Assert.Equal(0, stats.TotalLost);
    }

    [Fact]
    public async Task TwoConsumersEachSeeEverySpan()
    {
        const int count = 2_000;
        var source = new FakeEventSource();
        await using BeylaTracer tracer = Build(source);
        SpanCollector first = SpanCollector.Start(tracer.Spans());
        SpanCollector second = SpanCollector.Start(tracer.Spans());

        for (int i = 0; i < count; i++)
            source.Add(TestSpans.Numbered(i));
        source.Complete();
        await Task.WhenAll(first.Completion, second.Completion).WaitAsync(TestTimeouts.Default);

        AssertInOrder(first.Spans, count);
        AssertInOrder(second.Spans, count);
        // The same span objects are handed to both.
        Assert.Same(first.Spans[123], second.Spans[123]);
    }

    [Fact]
    public async Task CancellingOneConsumerEndsItWithOperationCanceledAndLeavesTheOthersRunning()
    {
        var source = new FakeEventSource();
        // A small buffer: if the cancelled consumer's buffer still took spans, those beyond its capacity would be counted as drops.
        await using BeylaTracer tracer = Build(source, o => o.ConsumerBufferCapacity = 4);
        using var cts = new CancellationTokenSource();
        var threeSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        SpanCollector cancelled = SpanCollector.Start(tracer.Spans(cts.Token), (_, n) =>
        {
            if (n == 3)
                threeSeen.TrySetResult();
        });
        SpanCollector other = SpanCollector.Start(tracer.Spans());

        for (int i = 0; i < 3; i++)
            source.Add(TestSpans.Numbered(i));
        await threeSeen.Task.WaitAsync(TestTimeouts.Default);
        await other.WaitForCountAsync(3);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.Completion.WaitAsync(TestTimeouts.Default));
        Assert.False(tracer.Completion.IsCompleted);

        // Spans keep flowing to the other consumer, one at a time so that it never falls behind.
        for (int i = 3; i < 20; i++)
        {
            source.Add(TestSpans.Numbered(i));
            await other.WaitForCountAsync(i + 1);
        }
        source.Complete();
        await other.Completion.WaitAsync(TestTimeouts.Default);
        await tracer.Completion.WaitAsync(TestTimeouts.Default);

        AssertInOrder(cancelled.Spans, 3);
        AssertInOrder(other.Spans, 20);
        Assert.Equal(0, tracer.Statistics.SpansDroppedForSlowConsumers);
    }

    [Fact]
    public async Task CancellingAWaitingConsumerEndsItPromptly()
    {
        var source = new FakeEventSource();
        await using BeylaTracer tracer = Build(source);
        using var cts = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        SpanCollector consumer = SpanCollector.Start(tracer.Spans(cts.Token), (_, _) => started.TrySetResult());
        source.Add(TestSpans.Numbered(0));
        await started.Task.WaitAsync(TestTimeouts.Default);

        cts.CancelAfter(TimeSpan.FromMilliseconds(50));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => consumer.Completion.WaitAsync(TestTimeouts.Default));
        Assert.False(tracer.Completion.IsCompleted);
    }

    [Fact]
    public async Task CancellingWhileSpansAreBufferedYieldsNoFurtherSpan()
    {
        const int count = 100;
        var source = new FakeEventSource();
        await using BeylaTracer tracer = Build(source);
        using var cts = new CancellationTokenSource();
        IAsyncEnumerable<HttpSpan> spans = tracer.Spans(cts.Token);
        for (int i = 0; i < count; i++)
            source.Add(TestSpans.Numbered(i));
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default); // every span is now in the consumer's buffer

        var received = new List<HttpSpan>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (HttpSpan span in spans)
            {
                received.Add(span);
                await cts.CancelAsync();
            }
        }).WaitAsync(TestTimeouts.Default);

        // "Until the token is cancelled": nothing is handed out after it.
        AssertInOrder(received, 1);
    }

    [Fact]
    public async Task AlreadyCancelledTokenEndsTheEnumerationAtOnce()
    {
        var source = new FakeEventSource();
        await using BeylaTracer tracer = Build(source);
        source.Add(TestSpans.Numbered(0));

        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (HttpSpan span in tracer.Spans(cts.Token).WithCancellation(CancellationToken.None))
                Assert.Fail($"got {span} after cancellation");
        }).WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task CompletingTheSourceEndsEveryEnumerationAndTheTracer()
    {
        var source = new FakeEventSource();
        await using BeylaTracer tracer = Build(source);
        SpanCollector first = SpanCollector.Start(tracer.Spans());
        SpanCollector second = SpanCollector.Start(tracer.Spans());
        source.Add(TestSpans.Numbered(0));
        source.Add(TestSpans.Numbered(1));

        source.Complete();

        await Task.WhenAll(first.Completion, second.Completion, tracer.Completion).WaitAsync(TestTimeouts.Default);
        AssertInOrder(first.Spans, 2);
        AssertInOrder(second.Spans, 2);

        // A consumer that arrives after the end gets an empty enumeration, not a hang.
        SpanCollector late = SpanCollector.Start(tracer.Spans());
        await late.Completion.WaitAsync(TestTimeouts.Default);
        Assert.Empty(late.Spans);
    }

    [Fact]
    public async Task ThrowingSinkDoesNotStopOtherSinksOrConsumersAndIsCounted()
    {
        const int count = 1_000;
        var source = new FakeEventSource();
        var thrower = new ThrowingSink();
        var sink = new CollectingSink();
        var lastSink = new ThrowingSink();
        await using BeylaTracer tracer = Build(source, null, thrower, sink, lastSink);
        SpanCollector consumer = SpanCollector.Start(tracer.Spans());

        for (int i = 0; i < count; i++)
            source.Add(TestSpans.Numbered(i));
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);
        await consumer.Completion.WaitAsync(TestTimeouts.Default);

        AssertInOrder(sink.Spans, count);
        AssertInOrder(consumer.Spans, count);
        Assert.True(thrower.Calls > 0);
        // Every batch reached every sink, and every throw was counted.
        Assert.Equal(sink.Batches, thrower.Calls);
        Assert.Equal(sink.Batches, lastSink.Calls);
        Assert.Equal(thrower.Calls + lastSink.Calls, tracer.Statistics.SinkFailures);
    }

    [Fact]
    public async Task NeverReadingConsumerGetsDropsCountedWhileSinkGetsEverything()
    {
        const int count = 500;
        const int capacity = 16;
        var source = new FakeEventSource();
        var sink = new CollectingSink();
        await using BeylaTracer tracer = Build(source, o => o.ConsumerBufferCapacity = capacity, sink);
        IAsyncEnumerable<HttpSpan> idle = tracer.Spans();

        for (int i = 0; i < count; i++)
            source.Add(TestSpans.Numbered(i));
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);

        AssertInOrder(sink.Spans, count);
        Assert.Equal(count - capacity, tracer.Statistics.SpansDroppedForSlowConsumers);
        Assert.Equal(count, tracer.Statistics.SpansDecoded);

        // What it buffered is the oldest spans; reading them late does not lose the count.
        SpanCollector late = SpanCollector.Start(idle);
        await late.Completion.WaitAsync(TestTimeouts.Default);
        AssertInOrder(late.Spans, capacity);
        Assert.Equal(count - capacity, tracer.Statistics.SpansDroppedForSlowConsumers);
    }

    [Fact]
    public async Task SlowConsumerDoesNotSlowOrStarveAFastOne()
    {
        const int count = 300;
        var source = new FakeEventSource();
        await using BeylaTracer tracer = Build(source, o => o.ConsumerBufferCapacity = 8);
        _ = tracer.Spans(); // subscribes and never reads
        SpanCollector fast = SpanCollector.Start(tracer.Spans());

        for (int i = 0; i < count; i++)
        {
            source.Add(TestSpans.Numbered(i));
            await fast.WaitForCountAsync(i + 1);
        }
        source.Complete();
        await fast.Completion.WaitAsync(TestTimeouts.Default);

        AssertInOrder(fast.Spans, count);
        Assert.Equal(count - 8, tracer.Statistics.SpansDroppedForSlowConsumers);
    }

    [Fact]
    public async Task LostEventsReportedBySourceShowInStatistics()
    {
        var source = new FakeEventSource();
        await using BeylaTracer tracer = Build(source);

        source.ReportLost(7);
        source.ReportLost(5);

        Assert.Equal(12, tracer.Statistics.EventsLostInSources);
        Assert.Equal(12, tracer.Statistics.TotalLost);
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task MalformedRecordsAreCountedAndTheValidOnesAroundThemArrive()
    {
        var source = new FakeEventSource();
        await using BeylaTracer tracer = Build(source);
        SpanCollector consumer = SpanCollector.Start(tracer.Spans());
        byte[] valid = EventRecords.EncodeHttpSpan(TestSpans.Numbered(1));
        byte[] badKind = (byte[])valid.Clone();
        badKind[HttpEventLayout.Kind] = 0;
        byte[] notHttp = (byte[])valid.Clone();
        "SSH-2.0-x\r\n"u8.CopyTo(notHttp.AsSpan(HttpEventLayout.Head));

        source.Add(TestSpans.Numbered(0));
        source.AddRecord([0xde, 0xad]);
        source.AddRecord(valid.AsSpan(0, 100));
        source.AddRecord(badKind);
        source.AddRecord([]);
        source.AddRecord(notHttp);
        source.AddRecord(valid);
        source.Add(TestSpans.Numbered(2));
        source.ReportLost(3);
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);
        await consumer.Completion.WaitAsync(TestTimeouts.Default);

        AssertInOrder(consumer.Spans, 3);
        TracerStatistics stats = tracer.Statistics;
        Assert.Equal(5, stats.MalformedRecords);
        Assert.Equal(3, stats.SpansDecoded);
        Assert.Equal(3, stats.EventsLostInSources);
        Assert.Equal(8, stats.TotalLost);
    }

    [Fact]
    public async Task CorruptFramingEndsOnlyThatSourceAndIsCountedAsMalformed()
    {
        var corrupt = new CorruptFramingSource();
        var good = new FakeEventSource("good");
        await using BeylaTracer tracer = new BeylaBuilder().WithEventSource(corrupt).WithEventSource(good).Build();
        SpanCollector consumer = SpanCollector.Start(tracer.Spans());
        corrupt.Start();

        // The corrupt source is stopped by the pipeline, not by disposal or cancellation.
        Exception? sourceEnd = await corrupt.Ended.WaitAsync(TestTimeouts.Default);
        Assert.IsType<InvalidDataException>(sourceEnd);
        Assert.Equal(1, tracer.Statistics.MalformedRecords);
        Assert.False(tracer.Completion.IsCompleted);

        good.Add(TestSpans.Numbered(1));
        good.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);
        await consumer.Completion.WaitAsync(TestTimeouts.Default);

        // The frame before the corrupt one was delivered; nothing after it was.
        Assert.Equal(["/items/0", "/items/1"], consumer.Spans.Select(s => s.Path).Order(StringComparer.Ordinal));
        Assert.Equal(1, tracer.Statistics.MalformedRecords);
        Assert.Equal(2, tracer.Statistics.SpansDecoded);
    }

    /// <summary>Writes one good frame, then a frame with a negative length, then good frames until the pipe refuses them.</summary>
    private sealed class CorruptFramingSource : IEventSource
    {
        private readonly TaskCompletionSource<Exception?> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _start = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "corrupt";

        public long LostEvents => 0;

        public Task<Exception?> Ended => _ended.Task;

        /// <summary>Lets the source write (after the test has subscribed).</summary>
        public void Start() => _start.TrySetResult();

        public async Task RunAsync(PipeWriter output, CancellationToken cancellationToken)
        {
            try
            {
                await _start.Task.WaitAsync(cancellationToken);
                EventRecords.Write(output, EventRecords.EncodeHttpSpan(TestSpans.Numbered(0)));
                output.Write(new byte[] { 0xff, 0xff, 0xff, 0xff, 1, 2, 3 });
                await output.FlushAsync(cancellationToken);
                for (int i = 100; ; i++)
                {
                    EventRecords.Write(output, EventRecords.EncodeHttpSpan(TestSpans.Numbered(i)));
                    FlushResult flush = await output.FlushAsync(cancellationToken);
                    if (flush.IsCompleted)
                        break;
                    await Task.Delay(1, cancellationToken);
                }
                _ended.TrySetResult(null);
            }
            catch (Exception ex)
            {
                _ended.TrySetResult(ex);
                throw;
            }
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task QueryStringIsAbsentByDefault()
    {
        var source = new FakeEventSource();
        await using BeylaTracer tracer = Build(source);
        SpanCollector consumer = SpanCollector.Start(tracer.Spans());

        source.Add(TestSpans.Numbered(0, query: "token=secret"));
        source.Complete();
        await consumer.Completion.WaitAsync(TestTimeouts.Default);

        HttpSpan span = Assert.Single(consumer.Spans);
        Assert.Equal("/items/0", span.Path);
        Assert.Null(span.QueryString);
        Assert.False(tracer.Options.CaptureQueryString);
    }

    [Fact]
    public async Task QueryStringIsPresentWhenCaptureIsConfigured()
    {
        var source = new FakeEventSource();
        await using BeylaTracer tracer = Build(source, o => o.CaptureQueryString = true);
        SpanCollector consumer = SpanCollector.Start(tracer.Spans());

        source.Add(TestSpans.Numbered(0, query: "token=secret"));
        source.Add(TestSpans.Numbered(1));
        source.Complete();
        await consumer.Completion.WaitAsync(TestTimeouts.Default);

        Assert.Equal(2, consumer.Spans.Count);
        Assert.Equal("/items/0", consumer.Spans[0].Path);
        Assert.Equal("token=secret", consumer.Spans[0].QueryString);
        Assert.Null(consumer.Spans[1].QueryString);
    }

    [Fact]
    public async Task DisposeAsyncReturnsPromptlyEndsConsumersAndIsIdempotent()
    {
        var source = new FakeEventSource(); // never completed: only disposal can stop it
        BeylaTracer tracer = Build(source);
        SpanCollector consumer = SpanCollector.Start(tracer.Spans());
        source.Add(TestSpans.Numbered(0));
        await consumer.WaitForCountAsync(1);

        await tracer.DisposeAsync().AsTask().WaitAsync(TestTimeouts.Default);

        Assert.True(tracer.Completion.IsCompleted);
        await consumer.Completion.WaitAsync(TestTimeouts.Default);
        AssertInOrder(consumer.Spans, 1);
        await tracer.DisposeAsync().AsTask().WaitAsync(TestTimeouts.Default);
        Assert.Throws<ObjectDisposedException>(() => tracer.Spans());
        // The tracer disposed its source.
        Assert.Throws<InvalidOperationException>(() => source.Add(TestSpans.Numbered(1)));
    }

    [Fact]
    public async Task ConcurrentDisposeCallsAllComplete()
    {
        var source = new FakeEventSource();
        BeylaTracer tracer = Build(source);

        Task[] disposals = [.. Enumerable.Range(0, 4).Select(_ => Task.Run(async () => await tracer.DisposeAsync()))];

        await Task.WhenAll(disposals).WaitAsync(TestTimeouts.Default);
        await tracer.Completion.WaitAsync(TestTimeouts.Default);
    }

    [Fact]
    public async Task SpansAddedBeforeTheConsumerSubscribedAreNotReplayed()
    {
        var source = new FakeEventSource();
        var sink = new CollectingSink();
        await using BeylaTracer tracer = Build(source, null, sink);
        source.Add(TestSpans.Numbered(0));
        DateTime deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (sink.Spans.Count < 1 && DateTime.UtcNow < deadline)
            await Task.Delay(2);

        SpanCollector consumer = SpanCollector.Start(tracer.Spans());
        source.Add(TestSpans.Numbered(1));
        source.Complete();
        await consumer.Completion.WaitAsync(TestTimeouts.Default);
        await tracer.Completion.WaitAsync(TestTimeouts.Default); // the sink has been handed everything

        Assert.Equal(["/items/1"], consumer.Spans.Select(s => s.Path));
        Assert.Equal(2, sink.Spans.Count);
    }
}
