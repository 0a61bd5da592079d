using System.Diagnostics;
using Beyla.Tests.Support;

namespace Beyla.Tests;

public sealed class StuckSinkTests
{
    [Fact]
    public async Task DisposeReturnsAndConsumersEndEvenWhenASinkNeverReturns()
    {
        using var never = new ManualResetEventSlim(false);
        var sink = new BlockingSink(never);
        var source = new FakeEventSource();
        BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).AddSink(sink).Build();
        IAsyncEnumerator<HttpSpan> consumer = tracer.Spans().GetAsyncEnumerator();
        source.Add(TestSpans.Numbered(1));
        await sink.Entered.WaitAsync(TestTimeouts.Default);

        var watch = Stopwatch.StartNew();
        await tracer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        // The consumer got its span and ends too.
        Assert.True(await consumer.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("/items/1", consumer.Current.Path);
        Assert.False(await consumer.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30));
        never.Set(); // let the sink's thread go
    }

    [Fact]
    public async Task AStuckSinkDelaysOnlyItselfAndWhatItCannotHoldIsCounted()
    {
        const int capacity = 10;
        const int total = 50;
        using var gate = new ManualResetEventSlim(false);
        var stuck = new BlockingSink(gate);
        var other = new CollectingSink();
        var source = new FakeEventSource();
        await using BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).AddSink(stuck).AddSink(other)
            .Configure(o => o.SinkBufferCapacity = capacity).Build();
        await using IAsyncEnumerator<HttpSpan> consumer = tracer.Spans().GetAsyncEnumerator();
        source.Add(TestSpans.Numbered(0));
        await stuck.Entered.WaitAsync(TestTimeouts.Default);

        // One span at a time: the other sink and the consumer get each one while the first sink is stuck.
        for (int i = 0; i < total; i++)
        {
            if (i > 0)
                source.Add(TestSpans.Numbered(i));
            Assert.True(await consumer.MoveNextAsync().AsTask().WaitAsync(TestTimeouts.Default));
            Assert.Equal($"/items/{i}", consumer.Current.Path);
            var deadline = Stopwatch.StartNew();
            while (other.Spans.Count <= i && deadline.Elapsed < TestTimeouts.Default)
                await Task.Delay(1);
            Assert.Equal($"/items/{i}", other.Spans[^1].Path);
        }
        Assert.Equal(Enumerable.Range(0, total).Select(i => $"/items/{i}"), other.Spans.Select(s => s.Path));
        // The stuck sink's queue held `capacity` spans (the one it is exporting included); the rest were dropped for it alone.
        Assert.Equal(total - capacity, tracer.Statistics.SpansDroppedForSlowSinks);
        Assert.Equal(0, tracer.Statistics.SpansDroppedForSlowConsumers);

        gate.Set();
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);
        Assert.Equal(Enumerable.Range(0, capacity).Select(i => $"/items/{i}"), stuck.Paths);
    }

    private sealed class BlockingSink(ManualResetEventSlim gate) : ISpanSink
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<string> _paths = [];

        public Task Entered => _entered.Task;

        public IReadOnlyList<string> Paths
        {
            get
            {
                lock (_paths)
                    return [.. _paths];
            }
        }

        public void Export(ReadOnlySpan<HttpSpan> spans)
        {
            lock (_paths)
            {
                foreach (HttpSpan span in spans)
                    _paths.Add(span.Path);
            }
            _entered.TrySetResult();
            gate.Wait();
        }
    }
}
