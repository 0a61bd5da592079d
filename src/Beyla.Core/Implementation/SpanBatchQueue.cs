using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Beyla.Implementation;

/// <summary>
/// A bounded queue of span batches between the pipeline and one reader (a
/// <see cref="BeylaTracer.Spans"/> consumer or a sink's thread). It holds at most
/// <c>capacity</c> spans: what does not fit is dropped and counted, so the pipeline never
/// waits for a reader. The reader is woken at most once per <see cref="Wake"/> (the pipeline calls
/// it every 1,024 spans and at the end of each read of its source) or when the queue is half
/// full, never once per span, and a reader that waits synchronously is woken without the thread pool.
/// </summary>
[SuppressMessage("Reliability", "CA1001", Justification = "The SemaphoreSlim never allocates its wait handle (AvailableWaitHandle is not used): nothing to dispose.")]
internal sealed class SpanBatchQueue
{
    private readonly ConcurrentQueue<QueuedBatch> _items = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly int _capacity;
    private long _queued;
    private long _dropped;
    private volatile bool _completed;
    private QueuedBatch _current;
    private int _index;
    private int _unsignalled; // 1: batches were queued since the last wake-up
    private long _wakeups;

    public SpanBatchQueue(int capacity)
    {
        _capacity = capacity;
    }

    /// <summary>Spans that did not fit.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Times the reader was signalled that batches had been queued (for tests).</summary>
    internal long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>Spans queued and not read yet.</summary>
    public long Count => Interlocked.Read(ref _queued) - _index;

    /// <summary>True once <see cref="Complete"/> was called and every queued span was read.</summary>
    public bool IsCompleted => _completed && _items.IsEmpty && _current.Batch is null;

    /// <summary>
    /// Queues as many of the batch's spans as fit (called by one publisher at a time); the rest
    /// are counted as dropped. Nothing is queued or counted once the queue is completed. The
    /// reader is not woken unless the queue is half full: <see cref="Wake"/> does that, once for
    /// all the batches written before it.
    /// </summary>
    public void Write(SpanBatch batch)
    {
        if (_completed)
            return;
        int take = (int)Math.Clamp(_capacity - Interlocked.Read(ref _queued), 0, batch.Count);
        if (take < batch.Count)
            Interlocked.Add(ref _dropped, batch.Count - take);
        if (take == 0)
            return;
        batch.AddReference();
        Interlocked.Add(ref _queued, take);
        _items.Enqueue(new QueuedBatch(batch, take));
        Volatile.Write(ref _unsignalled, 1);
        if (Interlocked.Read(ref _queued) >= _capacity / 2)
            Wake(); // half full: a small queue's reader must drain now, not at the publisher's next wake-up
    }

    /// <summary>Wakes the reader if batches were queued since the last wake-up.</summary>
    public void Wake()
    {
        if (Volatile.Read(ref _unsignalled) == 0 || Interlocked.Exchange(ref _unsignalled, 0) == 0)
            return;
        Interlocked.Increment(ref _wakeups);
        _signal.Release();
    }

    /// <summary>No more writes; the reader gets what is queued, then the end.</summary>
    public void Complete()
    {
        _completed = true;
        _signal.Release();
    }

    /// <summary>Waits for something to read; false at the end. Throws <see cref="OperationCanceledException"/> when cancelled.</summary>
    public async ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Readable() is bool readable)
                return readable;
            await _signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Blocks until there is something to read; false at the end.</summary>
    public bool WaitToRead()
    {
        while (true)
        {
            if (Readable() is bool readable)
                return readable;
            _signal.Wait();
        }
    }

    /// <summary>True when something is queued, false at the end, null when the reader must wait.</summary>
    private bool? Readable()
    {
        bool completed = _completed; // read before looking at the items: a write before the completion is seen
        if (_current.Batch is not null || !_items.IsEmpty)
            return true;
        return completed ? false : null;
    }

    /// <summary>Takes the next span, if one is queued.</summary>
    public bool TryRead([MaybeNullWhen(false)] out HttpSpan span)
    {
        while (true)
        {
            if (_current.Batch is { } batch)
            {
                if (_index < _current.Count)
                {
                    span = batch[_index++];
                    return true;
                }
                Done(_current);
                _current = default;
                _index = 0;
            }
            if (!_items.TryDequeue(out _current))
            {
                span = null;
                return false;
            }
        }
    }

    /// <summary>Takes the next whole batch, if one is queued; hand it back with <see cref="Done"/>. Not to be mixed with <see cref="TryRead"/>.</summary>
    public bool TryReadBatch(out QueuedBatch batch) => _items.TryDequeue(out batch);

    /// <summary>Gives back a batch taken from this queue: its spans no longer count against the capacity.</summary>
    public void Done(QueuedBatch batch)
    {
        Interlocked.Add(ref _queued, -batch.Count);
        batch.Batch.Release();
    }
}
