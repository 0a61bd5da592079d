namespace Beyla;

/// <summary>
/// Receives every span the tracer produces, in batches. Each sink is called from a queue of its
/// own on a thread of its own, one batch at a time, so a slow sink delays only itself: when it
/// falls <see cref="BeylaOptions.SinkBufferCapacity"/> spans behind, further spans are dropped
/// for it and counted (<see cref="TracerStatistics.SpansDroppedForSlowSinks"/>). An exception
/// is counted every time and logged once per exception type; it never stops the other sinks.
/// </summary>
public interface ISpanSink
{
    /// <summary>Receives a batch of spans. The spans' storage is reused after the call returns: copy what you keep.</summary>
    /// <param name="spans">The spans, in the order they finished in the kernel.</param>
    void Export(ReadOnlySpan<HttpSpan> spans);
}
