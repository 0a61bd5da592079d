namespace Beyla.Implementation;

/// <summary>
/// Up to <see cref="Capacity"/> spans handed out together to every consumer and sink queue.
/// Shared, never copied: each queue that takes it holds a reference, and the last one to be
/// done with it returns it to the pool (a batch a queue abandons is simply collected).
/// </summary>
internal sealed class SpanBatch
{
    public const int Capacity = 256;
    private const int MaxPooled = 512;
    private static readonly System.Collections.Concurrent.ConcurrentQueue<SpanBatch> Pool = new();
    private static int _pooled;

    private readonly HttpSpan[] _items = new HttpSpan[Capacity];
    private int _references;

    public int Count { get; private set; }

    public ReadOnlySpan<HttpSpan> Spans => _items.AsSpan(0, Count);

    public HttpSpan this[int index] => _items[index];

    /// <summary>A batch holding a copy of <paramref name="spans"/> (at most <see cref="Capacity"/>), with one reference: the publisher's.</summary>
    public static SpanBatch Rent(ReadOnlySpan<HttpSpan> spans)
    {
        if (Pool.TryDequeue(out SpanBatch? batch))
            Interlocked.Decrement(ref _pooled);
        else
            batch = new SpanBatch();
        spans.CopyTo(batch._items);
        batch.Count = spans.Length;
        batch._references = 1;
        return batch;
    }

    public void AddReference() => Interlocked.Increment(ref _references);

    /// <summary>Drops one reference; the last one clears the batch and pools it.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
            return;
        Array.Clear(_items, 0, Count);
        Count = 0;
        if (Interlocked.Increment(ref _pooled) <= MaxPooled)
            Pool.Enqueue(this);
        else
            Interlocked.Decrement(ref _pooled);
    }
}
