namespace Beyla;

/// <summary>Counters of a tracer, taken at one moment. Every request the library knows it missed is in <see cref="TotalLost"/>.</summary>
/// <param name="SpansDecoded">Spans decoded from records.</param>
/// <param name="EventsLostInSources">Events the sources lost before the pipeline (for example kernel ring buffer full).</param>
/// <param name="MalformedRecords">Records that could not be decoded.</param>
/// <param name="SpansDroppedForSlowConsumers">Spans not delivered to a <see cref="BeylaTracer.Spans"/> consumer that fell behind (counted per consumer).</param>
/// <param name="SinkFailures">Exceptions thrown by sinks.</param>
/// <param name="RoutesOverflowed">Spans whose route was aggregated into <c>/**</c> because their service had reached <see cref="BeylaOptions.MaxRoutesPerService"/>.</param>
/// <param name="SpansDroppedForSlowSinks">Spans not handed to a sink that fell more than <see cref="BeylaOptions.SinkBufferCapacity"/> spans behind (counted per sink).</param>
public readonly record struct TracerStatistics(
    long SpansDecoded,
    long EventsLostInSources,
    long MalformedRecords,
    long SpansDroppedForSlowConsumers,
    long SinkFailures,
    long RoutesOverflowed = 0,
    long SpansDroppedForSlowSinks = 0)
{
    /// <summary>Requests the library knows it did not report: lost in sources plus malformed records.</summary>
    public long TotalLost => EventsLostInSources + MalformedRecords;
}
