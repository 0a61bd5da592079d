using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

/// <summary>
/// Reads framed records from one source's pipe, decodes them and hands batches of spans to
/// the dispatcher. A frame that is not whole yet waits for more data; a frame whose length
/// cannot be right ends the source (its stream can no longer be trusted) and is counted.
/// </summary>
internal sealed class RecordPump
{
    public const int MaxRecordLength = 64 * 1024;
    private const int BatchSize = 256;

    private readonly HttpEventDecoder _decoder;
    private readonly SpanDispatcher _dispatcher;
    private readonly ILogger _logger;
    private readonly string _sourceName;
    private readonly HttpSpan[] _batch = new HttpSpan[BatchSize];
    private readonly byte[] _scratch = new byte[MaxRecordLength];
    private int _batchCount;
    private long _decoded;
    private long _malformed;
    private bool _loggedMalformed;

    public RecordPump(string sourceName, HttpEventDecoder decoder, SpanDispatcher dispatcher, ILogger logger)
    {
        _sourceName = sourceName;
        _decoder = decoder;
        _dispatcher = dispatcher;
        _logger = logger;
    }

    public long Decoded => Interlocked.Read(ref _decoded);

    public long Malformed => Interlocked.Read(ref _malformed);

    public async Task RunAsync(PipeReader reader, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                bool corrupt = !ProcessFrames(ref buffer);
                Flush();
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (corrupt)
                {
                    await reader.CompleteAsync(new InvalidDataException($"source {_sourceName} wrote a frame longer than {MaxRecordLength} bytes")).ConfigureAwait(false);
                    return;
                }
                if (result.IsCompleted || result.IsCanceled)
                {
                    if (!buffer.IsEmpty)
                        CountMalformed(DecodeError.Truncated); // a partial frame at the end of the stream
                    break;
                }
            }
            await reader.CompleteAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Flush();
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Consumes every whole frame in <paramref name="buffer"/>; false when a frame length is impossible.</summary>
    internal bool ProcessFrames(ref ReadOnlySequence<byte> buffer)
    {
        while (buffer.Length >= 4)
        {
            int length;
            if (buffer.FirstSpan.Length >= 4)
            {
                length = BinaryPrimitives.ReadInt32LittleEndian(buffer.FirstSpan);
            }
            else
            {
                buffer.Slice(0, 4).CopyTo(_scratch);
                length = BinaryPrimitives.ReadInt32LittleEndian(_scratch);
            }
            if (length < 0 || length > MaxRecordLength)
            {
                CountMalformed(DecodeError.InvalidField);
                buffer = buffer.Slice(buffer.End);
                return false;
            }
            if (buffer.Length < 4 + length)
                return true;

            ReadOnlySequence<byte> frame = buffer.Slice(4, length);
            ReadOnlySpan<byte> record;
            if (frame.IsSingleSegment)
            {
                record = frame.FirstSpan;
            }
            else
            {
                frame.CopyTo(_scratch);
                record = _scratch.AsSpan(0, length);
            }
            Decode(record);
            buffer = buffer.Slice(4 + length);
        }
        return true;
    }

    private void Decode(ReadOnlySpan<byte> record)
    {
        DecodeError error = _decoder.TryDecode(record, out HttpSpan? span);
        if (error != DecodeError.None)
        {
            CountMalformed(error);
            return;
        }
        Interlocked.Increment(ref _decoded);
        _batch[_batchCount++] = span!;
        if (_batchCount == BatchSize)
            Hand(); // the rest of this read follows: one wake-up for all of it, in Flush
    }

    /// <summary>Hands the spans decoded so far to the dispatcher and wakes the readers of everything handed since the last flush.</summary>
    internal void Flush()
    {
        Hand();
        _dispatcher.Wake();
    }

    /// <summary>Queues the spans decoded so far for the readers, without waking them.</summary>
    private void Hand()
    {
        if (_batchCount == 0)
            return;
        _dispatcher.Publish(_batch.AsSpan(0, _batchCount), wake: false);
        Array.Clear(_batch, 0, _batchCount);
        _batchCount = 0;
    }

    private void CountMalformed(DecodeError error)
    {
        Interlocked.Increment(ref _malformed);
        if (!_loggedMalformed)
        {
            _loggedMalformed = true;
            Log.RecordMalformed(_logger, _sourceName, error);
        }
    }
}
