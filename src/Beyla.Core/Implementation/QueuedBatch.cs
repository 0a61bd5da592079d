namespace Beyla.Implementation;

/// <summary>The first <see cref="Count"/> spans of a shared batch, as one queue took them.</summary>
internal readonly record struct QueuedBatch(SpanBatch Batch, int Count)
{
    public ReadOnlySpan<HttpSpan> Spans => Batch.Spans[..Count];
}
