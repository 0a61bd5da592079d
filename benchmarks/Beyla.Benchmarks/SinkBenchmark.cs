using Beyla.Implementation;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beyla.Benchmarks;

/// <summary>
/// What the pipeline benchmarks share: a batch of <see cref="Records"/> records per operation,
/// decoded by a pump into a dispatcher whose one sink (<see cref="Sink"/>) counts what it exports,
/// so that an operation can end when the sink has exported the last span.
/// </summary>
public abstract class SinkBenchmark
{
    private CountingSink _sink = null!;
    private long _expected;

    /// <summary>Records per operation.</summary>
    public int Records { get; set; } = 10_000;

    /// <summary>The sink: <c>count</c> (nothing but a counter) or <c>prometheus</c> (RED histogram aggregation).</summary>
    [Params("count", "prometheus")]
    public string Sink { get; set; } = "count";

    /// <summary>A pump that decodes into the benchmark's sink (made anew).</summary>
    internal RecordPump NewPump()
    {
        _sink = new CountingSink(Sink == "prometheus" ? new Beyla.Exporters.PrometheusExporter(new Beyla.Exporters.PrometheusExporterOptions { ServeHttp = false }) : null);
        var dispatcher = new SpanDispatcher([_sink], NullLogger.Instance, sinkBufferCapacity: Records);
        return new RecordPump("bench", new HttpEventDecoder(captureQuery: false, MonotonicClock.Shared), dispatcher, NullLogger.Instance);
    }

    /// <summary>Waits until the sink has exported <paramref name="handed"/> more spans.</summary>
    protected void WaitForExported(long handed)
    {
        _expected += handed;
        _sink.WaitFor(_expected);
    }
}
