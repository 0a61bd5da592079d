using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Beyla.Implementation;
using Beyla.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beyla.Tests;

public sealed class RecordPumpFramingTests
{
    private static (RecordPump Pump, Published Sink) CreatePump(int capacity = int.MaxValue)
    {
        var dispatcher = new SpanDispatcher([], NullLogger.Instance);
        var published = new Published(dispatcher.Subscribe(capacity));
        var pump = new RecordPump("test", new HttpEventDecoder(captureQuery: false, MonotonicClock.Shared), dispatcher, NullLogger.Instance);
        return (pump, published);
    }

    /// <summary>What the pump published, read straight from a consumer queue (sinks are fed on other threads).</summary>
    private sealed class Published(SpanBatchQueue queue)
    {
        private readonly List<HttpSpan> _spans = [];

        public long Wakeups => queue.Wakeups;

        public IReadOnlyList<HttpSpan> Spans
        {
            get
            {
                while (queue.TryRead(out HttpSpan? span))
                    _spans.Add(span);
                return _spans;
            }
        }
    }

    /// <summary>The framed records of spans 0..count-1, back to back, as a source writes them.</summary>
    private static byte[] FramedStream(int count)
    {
        var pipe = new Pipe();
        for (int i = 0; i < count; i++)
            EventRecords.Write(pipe.Writer, EventRecords.EncodeHttpSpan(TestSpans.Numbered(i)));
        return Drain(pipe);
    }

    private static byte[] Frame(ReadOnlySpan<byte> record)
    {
        var pipe = new Pipe();
        EventRecords.Write(pipe.Writer, record);
        return Drain(pipe);
    }

    private static byte[] Drain(Pipe pipe)
    {
        pipe.Writer.Complete();
        Assert.True(pipe.Reader.TryRead(out ReadResult result));
        byte[] bytes = result.Buffer.ToArray();
        pipe.Reader.AdvanceTo(result.Buffer.End);
        pipe.Reader.Complete();
        return bytes;
    }

    private static void AssertNumberedSpans(IReadOnlyList<HttpSpan> spans, int count)
    {
        Assert.Equal(count, spans.Count);
        for (int i = 0; i < count; i++)
        {
            HttpSpan expected = TestSpans.Numbered(i);
            Assert.Equal(expected.Path, spans[i].Path);
            Assert.Equal(expected.Method, spans[i].Method);
            Assert.Equal(expected.StatusCode, spans[i].StatusCode);
            Assert.Equal(expected.RequestBytes, spans[i].RequestBytes);
            Assert.Equal(expected.PeerPort, spans[i].PeerPort);
        }
    }

    private static async Task<(RecordPump Pump, Published Sink)> PumpAsync(ReadOnlySequence<byte> data)
    {
        (RecordPump pump, Published sink) = CreatePump();
        await pump.RunAsync(PipeReader.Create(data), CancellationToken.None).WaitAsync(TestTimeouts.Default);
        return (pump, sink);
    }

    [Fact]
    public async Task OneReadOfManyBatchesWakesTheConsumerOncePerThousandSpans()
    {
        // 2,100 records arrive in one read: nine batches are queued (eight of 256, one of 52),
        // and the consumer is woken after 1,024 spans, 2,048, and at the end of the read (a
        // wake-up is a thread switch; per batch, it cost more than the decoding under load).
        byte[] stream = FramedStream(2100);

        (RecordPump pump, Published sink) = await PumpAsync(new ReadOnlySequence<byte>(stream));

        Assert.Equal(3, sink.Wakeups);
        AssertNumberedSpans(sink.Spans, 2100);
        Assert.Equal(2100, pump.Decoded);
    }

    [Fact]
    public void AQueueHalfFullWakesItsReaderAtOnce()
    {
        // A consumer queue of 600 spans, and 1,024 spans in one read: the reader is woken when
        // the second batch makes the queue half full, and again with the third (which fills it),
        // not only at the end of the read, by which time a small queue would have dropped spans
        // its reader could have taken.
        (RecordPump pump, Published sink) = CreatePump(capacity: 600);
        var frames = new ReadOnlySequence<byte>(FramedStream(1024));

        Assert.True(pump.ProcessFrames(ref frames));
        Assert.Equal(2, sink.Wakeups);
        pump.Flush();

        Assert.Equal(2, sink.Wakeups); // nothing queued since
        AssertNumberedSpans(sink.Spans, 600);
    }

    [Fact]
    public void EachFlushWithNewSpansWakesTheConsumerOnce()
    {
        (RecordPump pump, Published sink) = CreatePump();
        var first = new ReadOnlySequence<byte>(FramedStream(300));
        var second = new ReadOnlySequence<byte>(FramedStream(2));

        Assert.True(pump.ProcessFrames(ref first));
        pump.Flush();
        pump.Flush(); // nothing new: no wake-up
        Assert.True(pump.ProcessFrames(ref second));
        pump.Flush();

        Assert.Equal(2, sink.Wakeups);
        AssertNumberedSpans([.. sink.Spans.Take(300)], 300);
        AssertNumberedSpans([.. sink.Spans.Skip(300)], 2);
    }

    [Fact]
    public void EncodedFrameIsALittleEndianLengthThenTheRecord()
    {
        byte[] record = EventRecords.EncodeHttpSpan(TestSpans.Numbered(1));

        byte[] frame = Frame(record);

        Assert.Equal(4 + record.Length, frame.Length);
        Assert.Equal(record.Length, BinaryPrimitives.ReadInt32LittleEndian(frame));
        Assert.Equal(record, frame[4..]);
    }

    [Fact]
    public async Task SequenceWithOneByteSegmentsDecodesEveryFrame()
    {
        byte[] stream = FramedStream(3);

        (RecordPump pump, Published sink) = await PumpAsync(SegmentedSequence.Create(stream, Enumerable.Range(1, stream.Length)));

        AssertNumberedSpans(sink.Spans, 3);
        Assert.Equal(3, pump.Decoded);
        Assert.Equal(0, pump.Malformed);
    }

    [Fact]
    public async Task SequenceSplitAtEveryByteBoundaryDecodesEveryFrame()
    {
        byte[] stream = FramedStream(2);
        for (int cut = 1; cut < stream.Length; cut++)
        {
            (RecordPump pump, Published sink) = await PumpAsync(SegmentedSequence.Create(stream, [cut]));

            Assert.True(pump.Decoded == 2, $"split at {cut}: {pump.Decoded} decoded");
            Assert.Equal(0, pump.Malformed);
            AssertNumberedSpans(sink.Spans, 2);
        }
    }

    [Fact]
    public async Task PipeWritesInEveryTwoPartSplitDecodeEveryFrame()
    {
        byte[] stream = FramedStream(2);
        for (int cut = 0; cut <= stream.Length; cut++)
        {
            (RecordPump pump, Published sink) = CreatePump();
            var pipe = new Pipe();
            Task run = Task.Run(() => pump.RunAsync(pipe.Reader, CancellationToken.None));

            await pipe.Writer.WriteAsync(stream.AsMemory(0, cut));
            await pipe.Writer.WriteAsync(stream.AsMemory(cut));
            await pipe.Writer.CompleteAsync();
            await run.WaitAsync(TestTimeouts.Default);

            Assert.True(pump.Decoded == 2, $"split at {cut}: {pump.Decoded} decoded");
            Assert.Equal(0, pump.Malformed);
            AssertNumberedSpans(sink.Spans, 2);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task PipeWritesOfRandomSizesDecodeEveryFrameInOrder(int seed)
    {
        const int count = 600; // more than two batches, over several pipe segments
        byte[] stream = FramedStream(count);
        var random = new Random(seed);
        (RecordPump pump, Published sink) = CreatePump();
        var pipe = new Pipe();
        Task run = Task.Run(() => pump.RunAsync(pipe.Reader, CancellationToken.None));

        int position = 0;
        while (position < stream.Length)
        {
            int size = Math.Min(stream.Length - position, random.Next(1, 700));
            await pipe.Writer.WriteAsync(stream.AsMemory(position, size));
            position += size;
        }
        await pipe.Writer.CompleteAsync();
        await run.WaitAsync(TestTimeouts.Default);

        Assert.Equal(count, pump.Decoded);
        Assert.Equal(0, pump.Malformed);
        AssertNumberedSpans(sink.Spans, count);
    }

    [Fact]
    public void ProcessFramesLeavesAnIncompleteFrameInTheBuffer()
    {
        byte[] stream = FramedStream(2);
        int frameLength = stream.Length / 2;
        (RecordPump pump, _) = CreatePump();

        for (int cut = 0; cut < frameLength; cut++)
        {
            // One whole frame and `cut` bytes of the next one.
            ReadOnlySequence<byte> buffer = SegmentedSequence.Create(stream[..(frameLength + cut)], [1, 3, frameLength - 2, frameLength + 2]);
            long decodedBefore = pump.Decoded;

            Assert.True(pump.ProcessFrames(ref buffer));

            Assert.Equal(decodedBefore + 1, pump.Decoded);
            Assert.Equal(cut, buffer.Length);
        }
        Assert.Equal(0, pump.Malformed);
    }

    [Theory]
    [InlineData(RecordPump.MaxRecordLength + 1)]
    [InlineData(int.MaxValue)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public async Task ImpossibleFrameLengthEndsTheSourceAndIsCountedAsMalformed(int length)
    {
        byte[] before = Frame(EventRecords.EncodeHttpSpan(TestSpans.Numbered(0)));
        byte[] bad = new byte[4 + 16];
        BinaryPrimitives.WriteInt32LittleEndian(bad, length);
        byte[] after = Frame(EventRecords.EncodeHttpSpan(TestSpans.Numbered(1)));
        (RecordPump pump, Published sink) = CreatePump();
        var pipe = new Pipe();
        Task run = Task.Run(() => pump.RunAsync(pipe.Reader, CancellationToken.None));

        await pipe.Writer.WriteAsync(before);
        await pipe.Writer.WriteAsync(bad);
        // The pump ends by itself, without the writer completing: the stream cannot be trusted any more.
        await run.WaitAsync(TestTimeouts.Default);
        // The reader completed the pipe with the reason: the source's next write fails with it.
        InvalidDataException ex = await Assert.ThrowsAsync<InvalidDataException>(async () => await pipe.Writer.WriteAsync(after));

        Assert.Contains("source test", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, pump.Decoded);
        Assert.Equal(1, pump.Malformed);
        Assert.Equal(["/items/0"], sink.Spans.Select(s => s.Path));
        await pipe.Writer.CompleteAsync();
    }

    [Fact]
    public async Task LargestAllowedFrameLengthIsNotCorrupt()
    {
        // A frame of exactly MaxRecordLength bytes is framed correctly; its content (zeros) is just not a span.
        byte[] big = Frame(new byte[RecordPump.MaxRecordLength]);
        byte[] next = Frame(EventRecords.EncodeHttpSpan(TestSpans.Numbered(0)));

        (RecordPump pump, Published sink) = await PumpAsync(SegmentedSequence.Create([.. big, .. next], [4096, 8192, 70_000]));

        Assert.Equal(1, pump.Malformed);
        Assert.Equal(1, pump.Decoded);
        Assert.Equal("/items/0", Assert.Single(sink.Spans).Path);
    }

    [Fact]
    public async Task ZeroLengthAndUndecodableFramesAreCountedAndTheStreamGoesOn()
    {
        byte[] garbage = new byte[HttpEventLayout.Size];
        garbage[0] = 9; // unknown type
        byte[] stream =
        [
            .. Frame(EventRecords.EncodeHttpSpan(TestSpans.Numbered(0))),
            .. Frame([]),
            .. Frame(garbage),
            .. Frame(EventRecords.EncodeHttpSpan(TestSpans.Numbered(1))),
        ];

        (RecordPump pump, Published sink) = await PumpAsync(SegmentedSequence.Create(stream, [5, 400, 401]));

        Assert.Equal(2, pump.Malformed);
        Assert.Equal(2, pump.Decoded);
        AssertNumberedSpans(sink.Spans, 2);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(100)]
    public async Task PartialFrameAtTheEndOfTheStreamIsCountedAsMalformed(int partialBytes)
    {
        byte[] whole = FramedStream(2);
        byte[] stream = whole[..(whole.Length / 2 + partialBytes)];

        (RecordPump pump, Published sink) = await PumpAsync(SegmentedSequence.Create(stream, []));

        Assert.Equal(1, pump.Decoded);
        Assert.Equal(1, pump.Malformed);
        AssertNumberedSpans(sink.Spans, 1);
    }

    [Fact]
    public async Task CancellationEndsThePumpWithoutAnExceptionAfterPublishingWhatItRead()
    {
        (RecordPump pump, Published sink) = CreatePump();
        var pipe = new Pipe();
        using var cts = new CancellationTokenSource();
        Task run = Task.Run(() => pump.RunAsync(pipe.Reader, cts.Token));

        await pipe.Writer.WriteAsync(FramedStream(3));
        DateTime deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (pump.Decoded < 3 && DateTime.UtcNow < deadline)
            await Task.Delay(2);
        await cts.CancelAsync();
        await run.WaitAsync(TestTimeouts.Default);

        AssertNumberedSpans(sink.Spans, 3);
        await pipe.Writer.CompleteAsync();
    }
}
