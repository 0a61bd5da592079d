using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

/// <summary>
/// Fans decoded spans out to every sink's queue and every <see cref="BeylaTracer.Spans"/>
/// consumer's queue. A batch is copied once into a shared <see cref="SpanBatch"/> and each queue
/// takes a reference, so handing out costs one wake-up per reader and <see cref="Wake"/> (every
/// 1,024 spans and at the end of each read of a source), never a wait: a queue that is full drops
/// and counts. Sources are serialised by a lock held only while a batch is queued; consumers come
/// and go under a second lock.
/// </summary>
internal sealed class SpanDispatcher
{
    private readonly SinkWorker[] _sinks;
    private readonly Lock _publishLock = new();
    private readonly Lock _subscriptionLock = new();
    private SpanBatchQueue[] _subscriptions = [];
    private long _droppedByRemovedSubscriptions;
    private bool _completed;

    public SpanDispatcher(ISpanSink[] sinks, ILogger logger, int sinkBufferCapacity = 65_536)
    {
        _sinks = Array.ConvertAll(sinks, sink => new SinkWorker(sink, sinkBufferCapacity, logger));
        Completion = Task.WhenAll(_sinks.Select(s => s.Completion));
    }

    /// <summary>Ends when <see cref="Complete"/> was called and every sink has been handed everything queued for it.</summary>
    public Task Completion { get; }

    public long SinkFailures => _sinks.Sum(s => s.Failures);

    public long DroppedForSlowSinks => _sinks.Sum(s => s.Queue.Dropped);

    public long DroppedForSlowConsumers
    {
        get
        {
            long total = Interlocked.Read(ref _droppedByRemovedSubscriptions);
            foreach (SpanBatchQueue s in Volatile.Read(ref _subscriptions))
                total += s.Dropped;
            return total;
        }
    }

    public SpanBatchQueue Subscribe(int capacity)
    {
        var subscription = new SpanBatchQueue(capacity);
        lock (_subscriptionLock)
        {
            if (_completed)
                subscription.Complete();
            else
                _subscriptions = [.. _subscriptions, subscription];
        }
        return subscription;
    }

    public void Unsubscribe(SpanBatchQueue subscription)
    {
        lock (_subscriptionLock)
        {
            int before = _subscriptions.Length;
            _subscriptions = Array.FindAll(_subscriptions, s => !ReferenceEquals(s, subscription));
            if (_subscriptions.Length != before)
                Interlocked.Add(ref _droppedByRemovedSubscriptions, subscription.Dropped);
            subscription.Complete();
        }
    }

    /// <summary>
    /// Queues <paramref name="spans"/> for every sink and consumer and, unless <paramref name="wake"/>
    /// is false (more batches follow at once: <see cref="Wake"/> comes after the last), wakes them.
    /// </summary>
    public void Publish(ReadOnlySpan<HttpSpan> spans, bool wake = true)
    {
        lock (_publishLock)
        {
            // Taken before any sink can see the batch: a consumer that subscribes once a sink
            // has a span does not get that span too.
            SpanBatchQueue[] subscriptions = Volatile.Read(ref _subscriptions);
            while (!spans.IsEmpty)
            {
                int count = Math.Min(spans.Length, SpanBatch.Capacity);
                SpanBatch batch = SpanBatch.Rent(spans[..count]);
                foreach (SinkWorker sink in _sinks)
                    sink.Queue.Write(batch);
                foreach (SpanBatchQueue subscription in subscriptions)
                    subscription.Write(batch);
                batch.Release(); // the publisher's reference
                spans = spans[count..];
            }
        }
        if (wake)
            Wake();
    }

    /// <summary>Wakes the sinks and consumers that were handed batches since the last wake-up.</summary>
    public void Wake()
    {
        foreach (SinkWorker sink in _sinks)
            sink.Queue.Wake();
        foreach (SpanBatchQueue subscription in Volatile.Read(ref _subscriptions))
            subscription.Wake();
    }

    /// <summary>Ends every consumer's enumeration and every sink's queue once it is read. Does not wait for a batch being handed out.</summary>
    public void Complete()
    {
        lock (_subscriptionLock)
        {
            _completed = true;
            foreach (SpanBatchQueue subscription in _subscriptions)
                subscription.Complete();
        }
        foreach (SinkWorker sink in _sinks)
            sink.Queue.Complete();
    }
}
