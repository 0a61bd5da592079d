using System.Diagnostics;
using Beyla.Tests.Support;

namespace Beyla.Tests;

public sealed class StuckSinkTests
{
    [Fact]
    public async Task DisposeReturnsAndConsumersEndEvenWhenASinkNeverReturns()
    {
        using var never = new ManualResetEventSlim(false);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sink = new BlockingSink(never, entered);
        var source = new FakeEventSource();
        BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).AddSink(sink).Build();
        IAsyncEnumerator<HttpSpan> consumer = tracer.Spans().GetAsyncEnumerator();
        source.Add(TestSpans.Numbered(1));
        await entered.Task.WaitAsync(TestTimeouts.Default);

        var watch = Stopwatch.StartNew();
        await tracer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        // The consumer ends too (it never got the span the stuck sink holds up).
        while (await consumer.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)))
        {
        }
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30));
        never.Set(); // let the pipeline thread go
    }

    private sealed class BlockingSink(ManualResetEventSlim gate, TaskCompletionSource entered) : ISpanSink
    {
        public void Export(ReadOnlySpan<HttpSpan> spans)
        {
            entered.TrySetResult();
            gate.Wait();
        }
    }
}
