using System.Buffers.Binary;
using System.Numerics;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Beyla.Implementation;
using Beyla.Interop;
using Microsoft.Win32.SafeHandles;

namespace Beyla.Benchmarks;

/// <summary>
/// The managed path from the ring buffer on: <see cref="Records"/> records laid out as the kernel
/// lays them out in a BPF ring buffer (a consumer page, a producer page, then 8-byte headers and
/// records, 8-byte aligned), read by the probe set's own reader through a memory mapping, drained
/// into the tracer's pipe, decoded by the pump on the same thread as the flush (as in the tracer)
/// and handed to a sink. The ring is a file on tmpfs instead of a BPF map, so no privileges are
/// needed; the reader maps it exactly as it maps a kernel ring. One operation drains the whole
/// batch and ends when the sink has exported the last span. Spans per second = Records / mean time.
/// </summary>
[MemoryDiagnoser]
public class RingDrainBenchmarks : SinkBenchmark
{
    private string _path = "";
    private SafeFileHandle _file = null!;
    private EventRings _rings = null!;
    private Pipe _pipe = null!;
    private Task _pumping = Task.CompletedTask;

    [GlobalSetup]
    public void Setup()
    {
        int page = Environment.SystemPageSize;
        List<byte[]> records = SampleRecords.Create(Records);
        int used = records.Sum(r => RingBufferReader.Footprint(r.Length));
        int dataSize = (int)Math.Max(page, BitOperations.RoundUpToPowerOf2((uint)used)); // the whole batch without wrapping
        byte[] data = new byte[used];
        int at = 0;
        foreach (byte[] record in records)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at), (uint)record.Length); // not busy, not discarded
            record.CopyTo(data, at + RingBufferReader.HeaderSize);
            at += RingBufferReader.Footprint(record.Length);
        }
        string directory = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        _path = Path.Combine(directory, $"beyla-ring-bench-{Environment.ProcessId}");
        _file = File.OpenHandle(_path, FileMode.Create, FileAccess.ReadWrite);
        RandomAccess.SetLength(_file, 2L * page + dataSize);
        RandomAccess.Write(_file, data, 2L * page);
        RandomAccess.Write(_file, BitConverter.GetBytes((ulong)used), page); // producer position

        SafeFileHandle ring = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite);
        var fd = new FileDescriptorHandle((int)ring.DangerousGetHandle());
        ring.SetHandleAsInvalid(); // the reader owns the descriptor now
        _rings = EventRings.Over([fd], dataSize, [0]);

        RecordPump pump = NewPump();
        _pipe = BeylaTracer.NewSourcePipe();
        _pumping = pump.RunAsync(_pipe.Reader, CancellationToken.None);
    }

    /// <summary>
    /// Drains the ring (from its start again) into the pipe as the socket probe set does (at most
    /// <see cref="SocketProbeSet.MaxRecordsPerDrain"/> records, then a flush, which decodes them),
    /// and waits until the sink has exported every span.
    /// </summary>
    [Benchmark]
    public int DrainDecodeAndDispatch()
    {
        RandomAccess.Write(_file, stackalloc byte[8], 0); // consumer position back to the start
        int total = 0;
        int drained;
        while ((drained = _rings.Drain(_pipe.Writer, SocketProbeSet.MaxRecordsPerDrain)) > 0)
        {
            ValueTask<FlushResult> flush = _pipe.Writer.FlushAsync();
            if (!flush.IsCompletedSuccessfully)
                flush.AsTask().GetAwaiter().GetResult();
            total += drained;
        }
        WaitForExported(total);
        return total;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pipe.Writer.Complete();
        _pumping.GetAwaiter().GetResult();
        _rings.Dispose();
        _file.Dispose();
        File.Delete(_path);
    }
}
