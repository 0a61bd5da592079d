using System.Buffers;
using BenchmarkDotNet.Attributes;
using Beyla.Implementation;

namespace Beyla.Benchmarks;

/// <summary>
/// The managed hot path: framed ring-buffer records, as they sit in the pipe, decoded into
/// spans (service name, route decoration, traceparent search included) and handed to a sink:
/// a counting one, or the Prometheus exporter's aggregation. One operation is one batch of
/// <see cref="Records"/> records, decoded on the calling thread and exported on the sink's own
/// thread; it ends when the sink has exported the last span. Spans per second = Records / mean time.
/// </summary>
[MemoryDiagnoser]
public class DecodePipelineBenchmarks : SinkBenchmark
{
    private ReadOnlySequence<byte> _frames;
    private RecordPump _pump = null!;

    [GlobalSetup]
    public void Setup()
    {
        using var buffer = new MemoryStream();
        foreach (byte[] record in SampleRecords.Create(Records))
        {
            buffer.Write(BitConverter.GetBytes(record.Length));
            buffer.Write(record);
        }
        _frames = new ReadOnlySequence<byte>(buffer.ToArray());
        _pump = NewPump();
    }

    /// <summary>Decodes every record of the batch and waits until the sink has exported them all.</summary>
    [Benchmark]
    public bool DecodeAndDispatch()
    {
        ReadOnlySequence<byte> frames = _frames;
        bool ok = _pump.ProcessFrames(ref frames);
        _pump.Flush();
        WaitForExported(Records);
        return ok;
    }
}
