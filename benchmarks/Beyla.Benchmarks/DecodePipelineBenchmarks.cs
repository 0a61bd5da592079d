using System.Buffers;
using System.Net;
using BenchmarkDotNet.Attributes;
using Beyla.Implementation;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beyla.Benchmarks;

/// <summary>
/// The managed hot path: framed ring-buffer records, as they sit in the pipe, decoded into
/// spans (service name, route decoration, traceparent search included) and handed to a sink:
/// a counting one, or the Prometheus exporter's aggregation. One operation is one batch of
/// <see cref="Records"/> records, decoded on the calling thread and exported on the sink's own
/// thread; it ends when the sink has exported the last span. Spans per second = Records / mean time.
/// </summary>
[MemoryDiagnoser]
public class DecodePipelineBenchmarks
{
    private ReadOnlySequence<byte> _frames;
    private RecordPump _pump = null!;
    private CountingSink _sink = null!;
    private long _expected;

    /// <summary>Records per operation.</summary>
    public int Records { get; set; } = 10_000;

    /// <summary>The sink: <c>count</c> (nothing but a counter) or <c>prometheus</c> (RED histogram aggregation).</summary>
    [Params("count", "prometheus")]
    public string Sink { get; set; } = "count";

    [GlobalSetup]
    public void Setup()
    {
        string[] paths = ["/api/users/42", "/api/orders", "/health", "/static/app.js", "/api/users/42/orders?page=2"];
        int[] statuses = [200, 201, 404, 500, 200];
        using var buffer = new MemoryStream();
        for (int i = 0; i < Records; i++)
        {
            byte[] record = EventRecords.EncodeHttpSpan(new HttpSpan
            {
                Method = i % 3 == 0 ? "POST" : "GET",
                Path = paths[i % paths.Length].Split('?')[0],
                QueryString = paths[i % paths.Length].Contains('?', StringComparison.Ordinal) ? "page=2" : null,
                StatusCode = statuses[i % statuses.Length],
                DurationNanoseconds = 1_000_000 + i,
                RequestBytes = 120,
                ResponseBytes = 512,
                ProcessId = 1234,
                ThreadId = 1235,
                LocalAddress = IPAddress.Loopback,
                LocalPort = 8080,
                PeerAddress = IPAddress.Loopback,
                PeerPort = 40000 + (i % 1000),
                StartTimestamp = 1_000_000_000 + i,
            });
            buffer.Write(BitConverter.GetBytes(record.Length));
            buffer.Write(record);
        }
        _frames = new ReadOnlySequence<byte>(buffer.ToArray());
        _sink = new CountingSink(Sink == "prometheus" ? new Beyla.Exporters.PrometheusExporter(new Beyla.Exporters.PrometheusExporterOptions { ServeHttp = false }) : null);
        var dispatcher = new SpanDispatcher([_sink], NullLogger.Instance, sinkBufferCapacity: Records);
        _pump = new RecordPump("bench", new HttpEventDecoder(captureQuery: false, MonotonicClock.Shared), dispatcher, NullLogger.Instance);
    }

    /// <summary>Decodes every record of the batch and waits until the sink has exported them all.</summary>
    [Benchmark]
    public bool DecodeAndDispatch()
    {
        ReadOnlySequence<byte> frames = _frames;
        bool ok = _pump.ProcessFrames(ref frames);
        _pump.Flush();
        _expected += Records;
        var wait = new SpinWait();
        while (_sink.Count < _expected)
            wait.SpinOnce(sleep1Threshold: -1); // yields, never sleeps: a 1 ms sleep would be most of the measure
        return ok;
    }

    /// <summary>Counts what it exports, after handing it to the real sink, if any.</summary>
    private sealed class CountingSink(ISpanSink? inner) : ISpanSink
    {
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public void Export(ReadOnlySpan<HttpSpan> spans)
        {
            inner?.Export(spans);
            Interlocked.Add(ref _count, spans.Length);
        }
    }
}
