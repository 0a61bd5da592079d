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
    // Readers are woken after this many spans, or at the end of a read: a wake-up is a thread
    // switch, dearer than decoding a batch, but a long read should not hold its spans back
    // (while they wait, they age into an older GC generation).
    private const int WakeEvery = 4 * BatchSize;

    private readonly HttpEventDecoder _decoder;
    private readonly SpanDispatcher _dispatcher;
    private readonly ILogger _logger;
    private readonly string _sourceName;
    private readonly HttpSpan[] _batch = new HttpSpan[BatchSize];
    private readonly byte[] _scratch = new byte[MaxRecordLength];
    private int _batchCount;
    private int _handedUnwoken;
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

    public long Decoded => Volatile.Read(ref _decoded);

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
        finally
        {
            Wake(); // whatever ended the pump, readers see every span handed over
        }
    }

    /// <summary>Consumes every whole frame in <paramref name="buffer"/>; false when a frame length is impossible.</summary>
    internal bool ProcessFrames(ref ReadOnlySequence<byte> buffer)
    {
        while (buffer.Length >= 4)
        {
            // The frames wholly inside the first segment, by offset: the sequence is sliced once
            // for all of them, not twice per frame.
            ReadOnlySpan<byte> span = buffer.FirstSpan;
            int offset = 0;
            while (span.Length - offset >= 4)
            {
                int length = BinaryPrimitives.ReadInt32LittleEndian(span[offset..]);
                if (length < 0 || length > MaxRecordLength)
                    return Corrupt(ref buffer);
                if (span.Length - offset - 4 < length)
                    break;
                Decode(span.Slice(offset + 4, length));
                offset += 4 + length;
            }
            if (offset > 0)
            {
                buffer = buffer.Slice(offset);
                continue;
            }
            // The next frame (or its length) crosses into the next segment, or is not whole yet.
            buffer.Slice(0, 4).CopyTo(_scratch);
            int split = BinaryPrimitives.ReadInt32LittleEndian(_scratch);
            if (split < 0 || split > MaxRecordLength)
                return Corrupt(ref buffer);
            if (buffer.Length < 4 + split)
                return true;
            buffer.Slice(4, split).CopyTo(_scratch);
            Decode(_scratch.AsSpan(0, split));
            buffer = buffer.Slice(4 + split);
        }
        return true;
    }

    /// <summary>A frame length that cannot be right: the rest of the stream is dropped and counted. Returns false.</summary>
    private bool Corrupt(ref ReadOnlySequence<byte> buffer)
    {
        CountMalformed(DecodeError.InvalidField);
        buffer = buffer.Slice(buffer.End);
        return false;
    }

    private void Decode(ReadOnlySpan<byte> record)
    {
        DecodeError error = _decoder.TryDecode(record, out HttpSpan? span);
        if (error != DecodeError.None)
        {
            CountMalformed(error);
            return;
        }
        _decoded++; // one writer: the pump's thread
        _batch[_batchCount++] = span!;
        if (_batchCount < BatchSize)
            return;
        Hand();
        if (_handedUnwoken >= WakeEvery)
            Wake();
    }

    /// <summary>Hands the spans decoded so far to the dispatcher and wakes the readers of everything handed since the last wake-up.</summary>
    internal void Flush()
    {
        Hand();
        Wake();
    }

    private void Wake()
    {
        _dispatcher.Wake();
        _handedUnwoken = 0;
    }

    /// <summary>Queues the spans decoded so far for the readers, without waking them.</summary>
    private void Hand()
    {
        if (_batchCount == 0)
            return;
        _dispatcher.Publish(_batch.AsSpan(0, _batchCount), wake: false);
        _handedUnwoken += _batchCount;
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
