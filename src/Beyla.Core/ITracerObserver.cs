namespace Beyla;

/// <summary>
/// Implemented by sinks that also report on the tracer itself (for example its
/// <see cref="BeylaTracer.Statistics"/> as health metrics). The tracer calls
/// <see cref="OnTracerStarted"/> once, before the first span, for each sink that implements it.
/// </summary>
public interface ITracerObserver
{
    /// <summary>Called when a tracer that feeds this sink has started.</summary>
    /// <param name="tracer">The tracer; valid until it is disposed.</param>
    void OnTracerStarted(BeylaTracer tracer);
}
