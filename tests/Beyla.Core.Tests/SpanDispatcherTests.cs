using Beyla.Implementation;
using Beyla.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beyla.Tests;

public sealed class SpanDispatcherTests
{
    private static HttpSpan[] Batch(int first, int count) => [.. Enumerable.Range(first, count).Select(i => TestSpans.Numbered(i))];

    private static List<HttpSpan> ReadAll(SpanBatchQueue queue)
    {
        var spans = new List<HttpSpan>();
        while (queue.TryRead(out HttpSpan? span))
            spans.Add(span);
        return spans;
    }

    [Fact]
    public void FullSubscriptionDropsNewSpansAndCountsThem()
    {
        var dispatcher = new SpanDispatcher([], NullLogger.Instance);
        SpanBatchQueue subscription = dispatcher.Subscribe(capacity: 2);

        dispatcher.Publish(Batch(0, 5));

        Assert.Equal(3, subscription.Dropped);
        Assert.Equal(3, dispatcher.DroppedForSlowConsumers);
        Assert.Equal(["/items/0", "/items/1"], ReadAll(subscription).Select(s => s.Path));
    }

    [Fact]
    public void ReadingFreesRoomAgain()
    {
        var dispatcher = new SpanDispatcher([], NullLogger.Instance);
        SpanBatchQueue subscription = dispatcher.Subscribe(capacity: 3);

        dispatcher.Publish(Batch(0, 3));
        Assert.Equal(3, ReadAll(subscription).Count);
        dispatcher.Publish(Batch(3, 3));

        Assert.Equal(0, subscription.Dropped);
        Assert.Equal(["/items/3", "/items/4", "/items/5"], ReadAll(subscription).Select(s => s.Path));
    }

    [Fact]
    public void BatchesLargerThanOneSharedBatchArriveWholeAndInOrder()
    {
        var dispatcher = new SpanDispatcher([], NullLogger.Instance);
        SpanBatchQueue first = dispatcher.Subscribe(capacity: 10_000);
        SpanBatchQueue second = dispatcher.Subscribe(capacity: 10_000);
        int count = SpanBatch.Capacity * 3 + 17;

        dispatcher.Publish(Batch(0, count));

        string[] expected = [.. Enumerable.Range(0, count).Select(i => $"/items/{i}")];
        Assert.Equal(expected, ReadAll(first).Select(s => s.Path));
        Assert.Equal(expected, ReadAll(second).Select(s => s.Path));
    }

    [Fact]
    public void UnsubscribingKeepsItsDropsCountedOnceAndStopsDelivery()
    {
        var dispatcher = new SpanDispatcher([], NullLogger.Instance);
        SpanBatchQueue gone = dispatcher.Subscribe(capacity: 1);
        SpanBatchQueue staying = dispatcher.Subscribe(capacity: 100);
        dispatcher.Publish(Batch(0, 5));

        dispatcher.Unsubscribe(gone);
        dispatcher.Unsubscribe(gone); // a second call changes nothing
        dispatcher.Publish(Batch(5, 5));

        Assert.Equal(4, dispatcher.DroppedForSlowConsumers);
        Assert.Equal(4, gone.Dropped);
        Assert.Equal(0, staying.Dropped);
        // It keeps the one span it had buffered, gets nothing more, and is completed.
        Assert.Equal(1, gone.Count);
        Assert.Single(ReadAll(gone));
        Assert.True(gone.IsCompleted);
        Assert.Equal(10, staying.Count);
    }

    [Fact]
    public void SubscribingAfterCompletionGivesACompletedEmptyQueue()
    {
        var dispatcher = new SpanDispatcher([], NullLogger.Instance);
        SpanBatchQueue before = dispatcher.Subscribe(capacity: 10);
        dispatcher.Publish(Batch(0, 1));

        dispatcher.Complete();
        SpanBatchQueue after = dispatcher.Subscribe(capacity: 10);

        Assert.True(after.IsCompleted);
        Assert.False(after.TryRead(out _));
        // The earlier subscriber still reads what it was given, then sees the end.
        Assert.False(before.IsCompleted);
        Assert.Equal(["/items/0"], ReadAll(before).Select(s => s.Path));
        Assert.True(before.IsCompleted);
    }

    [Fact]
    public async Task SinkFailuresAreCountedEveryTimeButLoggedOncePerKind()
    {
        var logger = new RecordingLogger();
        var thrower = new ThrowingSink();
        var collector = new CollectingSink();
        var dispatcher = new SpanDispatcher([thrower, collector], logger);

        for (int i = 0; i < 5; i++)
            dispatcher.Publish(Batch(i, 1));
        dispatcher.Complete();
        await dispatcher.Completion.WaitAsync(TestTimeouts.Default);

        Assert.Equal(5, dispatcher.SinkFailures);
        Assert.Equal(5, thrower.Calls);
        Assert.Equal(5, collector.Spans.Count);
        LogEntry entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.IsType<InvalidOperationException>(entry.Exception);
        Assert.Contains(nameof(ThrowingSink), entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EmptyBatchReachesNoSink()
    {
        var collector = new CollectingSink();
        var dispatcher = new SpanDispatcher([collector], NullLogger.Instance);

        dispatcher.Publish([]);
        dispatcher.Complete();
        await dispatcher.Completion.WaitAsync(TestTimeouts.Default);

        Assert.Equal(0, collector.Batches);
    }
}
