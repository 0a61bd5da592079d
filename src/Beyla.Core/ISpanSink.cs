namespace Beyla;

/// <summary>
/// Receives every span the tracer produces, in batches, on the pipeline's thread. An
/// implementation must be quick and must not block: hand work to another thread if it is slow.
/// An exception from one sink is logged and counted; it never stops the others.
/// </summary>
public interface ISpanSink
{
    /// <summary>Receives a batch of spans. The span array is reused after the call returns.</summary>
    /// <param name="spans">The spans, in the order they finished in the kernel.</param>
    void Export(ReadOnlySpan<HttpSpan> spans);
}
