using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

/// <summary>
/// Fans decoded spans out to the sinks and to every <see cref="BeylaTracer.Spans"/> consumer.
/// Called by one pipeline loop at a time per source; sources are serialised by a lock held
/// only while a batch is handed out. Consumers come and go under a second lock, so that a sink
/// that does not return never blocks a consumer that stops or a tracer that is disposed.
/// </summary>
internal sealed class SpanDispatcher
{
    private readonly ISpanSink[] _sinks;
    private readonly ILogger _logger;
    private readonly Lock _publishLock = new();
    private readonly Lock _subscriptionLock = new();
    private readonly HashSet<(Type Sink, Type Exception)> _failureKinds = [];
    private SpanSubscription[] _subscriptions = [];
    private long _droppedByRemovedSubscriptions;
    private long _sinkFailures;
    private bool _completed;

    public SpanDispatcher(ISpanSink[] sinks, ILogger logger)
    {
        _sinks = sinks;
        _logger = logger;
    }

    public long SinkFailures => Interlocked.Read(ref _sinkFailures);

    public long DroppedForSlowConsumers
    {
        get
        {
            long total = Interlocked.Read(ref _droppedByRemovedSubscriptions);
            foreach (SpanSubscription s in Volatile.Read(ref _subscriptions))
                total += s.Dropped;
            return total;
        }
    }

    public SpanSubscription Subscribe(int capacity)
    {
        var subscription = new SpanSubscription(capacity);
        lock (_subscriptionLock)
        {
            if (_completed)
                subscription.Channel.Writer.TryComplete();
            else
                _subscriptions = [.. _subscriptions, subscription];
        }
        return subscription;
    }

    public void Unsubscribe(SpanSubscription subscription)
    {
        lock (_subscriptionLock)
        {
            int before = _subscriptions.Length;
            _subscriptions = Array.FindAll(_subscriptions, s => !ReferenceEquals(s, subscription));
            if (_subscriptions.Length != before)
                Interlocked.Add(ref _droppedByRemovedSubscriptions, subscription.Dropped);
            subscription.Channel.Writer.TryComplete();
        }
    }

    public void Publish(ReadOnlySpan<HttpSpan> batch)
    {
        if (batch.IsEmpty)
            return;
        lock (_publishLock)
        {
            foreach (ISpanSink sink in _sinks)
            {
                try
                {
                    sink.Export(batch);
                }
                catch (Exception ex)
                {
                    Interlocked.Increment(ref _sinkFailures);
                    if (_failureKinds.Add((sink.GetType(), ex.GetType())))
                        Log.SinkFailed(_logger, sink.GetType().Name, ex.GetType().Name, ex);
                }
            }
            foreach (SpanSubscription subscription in Volatile.Read(ref _subscriptions))
            {
                foreach (HttpSpan span in batch)
                    subscription.Channel.Writer.TryWrite(span);
            }
        }
    }

    /// <summary>Ends every consumer's enumeration. Does not wait for a batch being handed out.</summary>
    public void Complete()
    {
        lock (_subscriptionLock)
        {
            _completed = true;
            foreach (SpanSubscription subscription in _subscriptions)
                subscription.Channel.Writer.TryComplete();
        }
    }
}
