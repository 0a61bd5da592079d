using Beyla.Implementation;
using Beyla.Tests.Support;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beyla.Tests;

public sealed class SpanDispatcherTests
{
    private static HttpSpan[] Batch(int first, int count) => [.. Enumerable.Range(first, count).Select(i => TestSpans.Numbered(i))];

    [Fact]
    public void FullSubscriptionDropsNewSpansAndCountsThem()
    {
        var dispatcher = new SpanDispatcher([], NullLogger.Instance);
        SpanSubscription subscription = dispatcher.Subscribe(capacity: 2);

        dispatcher.Publish(Batch(0, 5));

        Assert.Equal(3, subscription.Dropped);
        Assert.Equal(3, dispatcher.DroppedForSlowConsumers);
        Assert.True(subscription.Channel.Reader.TryRead(out HttpSpan? first));
        Assert.True(subscription.Channel.Reader.TryRead(out HttpSpan? second));
        Assert.False(subscription.Channel.Reader.TryRead(out _));
        Assert.Equal("/items/0", first.Path);
        Assert.Equal("/items/1", second.Path);
    }

    [Fact]
    public void UnsubscribingKeepsItsDropsCountedOnceAndStopsDelivery()
    {
        var dispatcher = new SpanDispatcher([], NullLogger.Instance);
        SpanSubscription gone = dispatcher.Subscribe(capacity: 1);
        SpanSubscription staying = dispatcher.Subscribe(capacity: 100);
        dispatcher.Publish(Batch(0, 5));

        dispatcher.Unsubscribe(gone);
        dispatcher.Unsubscribe(gone); // a second call changes nothing
        dispatcher.Publish(Batch(5, 5));

        Assert.Equal(4, dispatcher.DroppedForSlowConsumers);
        Assert.Equal(4, gone.Dropped);
        Assert.Equal(0, staying.Dropped);
        // It keeps the one span it had buffered, gets nothing more, and is completed.
        Assert.Equal(1, gone.Channel.Reader.Count);
        Assert.True(gone.Channel.Reader.TryRead(out _));
        Assert.True(gone.Channel.Reader.Completion.IsCompleted);
        Assert.Equal(10, staying.Channel.Reader.Count);
    }

    [Fact]
    public void SubscribingAfterCompletionGivesACompletedEmptyChannel()
    {
        var dispatcher = new SpanDispatcher([], NullLogger.Instance);
        SpanSubscription before = dispatcher.Subscribe(capacity: 10);
        dispatcher.Publish(Batch(0, 1));

        dispatcher.Complete();
        SpanSubscription after = dispatcher.Subscribe(capacity: 10);

        Assert.True(after.Channel.Reader.Completion.IsCompleted);
        Assert.False(after.Channel.Reader.TryRead(out _));
        // The earlier subscriber still reads what it was given, then sees the end.
        Assert.True(before.Channel.Reader.TryRead(out HttpSpan? span));
        Assert.Equal("/items/0", span.Path);
        Assert.True(before.Channel.Reader.Completion.IsCompleted);
    }

    [Fact]
    public void SinkFailuresAreCountedEveryTimeButLoggedOncePerKind()
    {
        var logger = new RecordingLogger();
        var thrower = new ThrowingSink();
        var collector = new CollectingSink();
        var dispatcher = new SpanDispatcher([thrower, collector], logger);

        for (int i = 0; i < 5; i++)
            dispatcher.Publish(Batch(i, 1));

        Assert.Equal(5, dispatcher.SinkFailures);
        Assert.Equal(5, thrower.Calls);
        Assert.Equal(5, collector.Spans.Count);
        LogEntry entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.IsType<InvalidOperationException>(entry.Exception);
        Assert.Contains(nameof(ThrowingSink), entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyBatchReachesNoSink()
    {
        var collector = new CollectingSink();
        var dispatcher = new SpanDispatcher([collector], NullLogger.Instance);

        dispatcher.Publish([]);

        Assert.Equal(0, collector.Batches);
    }
}
