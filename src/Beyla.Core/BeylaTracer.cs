using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Beyla.Implementation;
using Microsoft.Extensions.Logging;

namespace Beyla;

/// <summary>
/// A running tracer, made by <see cref="BeylaBuilder.Build"/>: spans flow from its event
/// sources to its sinks and to every <see cref="Spans"/> consumer until it is disposed.
/// </summary>
public sealed class BeylaTracer : IAsyncDisposable
{
    private const long PipePauseThreshold = 8 * 1024 * 1024;
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly IReadOnlyList<IEventSource> _sources;
    private readonly RecordPump[] _pumps;
    private readonly Task[] _tasks;
    private readonly Task[] _producers;
    private readonly SpanDispatcher _dispatcher;
    private readonly SpanDecoration _decoration;
    private readonly ISpanSink[] _ownedSinks;
    private readonly BeylaOptions _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _completion;
    private int _disposed;

    internal BeylaTracer(IReadOnlyList<IEventSource> sources, ISpanSink[] sinks, ISpanSink[] ownedSinks, BeylaOptions options, ILoggerFactory loggerFactory)
    {
        _sources = sources;
        _ownedSinks = ownedSinks;
        _options = options;
        _logger = loggerFactory.CreateLogger("Beyla");
        _dispatcher = new SpanDispatcher(sinks, _logger, options.SinkBufferCapacity);
        var decoderClock = MonotonicClock.Shared;
        _decoration = new SpanDecoration(options);
        foreach (ISpanSink sink in sinks)
            (sink as ITracerObserver)?.OnTracerStarted(this);
        _pumps = new RecordPump[sources.Count];
        _tasks = new Task[sources.Count];
        _producers = new Task[sources.Count];
        for (int i = 0; i < sources.Count; i++)
        {
            IEventSource source = sources[i];
            Pipe pipe = NewSourcePipe();
            var pump = new RecordPump(source.Name, new HttpEventDecoder(options.CaptureQueryString, decoderClock, _decoration), _dispatcher, _logger);
            _pumps[i] = pump;
            Task producer = RunSourceAsync(source, pipe.Writer);
            _producers[i] = producer;
            // The pump drains until its source completes the pipe, so nothing written before disposal is lost.
            Task consumer = Task.Run(() => pump.RunAsync(pipe.Reader, CancellationToken.None));
            _tasks[i] = Task.WhenAll(producer, consumer);
        }
        _completion = FinishAsync();
    }

    /// <summary>The pipe between a source and its pump.</summary>
    internal static Pipe NewSourcePipe() => new(new PipeOptions(
        // its own blocks, reused: the shared array pool keeps too few for a busy drain
        pool: new BlockMemoryPool(),
        minimumSegmentSize: BlockMemoryPool.BlockSize,
        pauseWriterThreshold: PipePauseThreshold,
        resumeWriterThreshold: PipePauseThreshold / 2,
        // The pump decodes on the source's own thread as soon as it flushes: no
        // thread-pool hop per flush. It never blocks there: sinks and consumers read
        // from queues of their own.
        readerScheduler: PipeScheduler.Inline,
        useSynchronizationContext: false));

    /// <summary>The settings the tracer runs with.</summary>
    public BeylaOptions Options => _options;

    /// <summary>The names of the event sources, for diagnostics.</summary>
    public IReadOnlyList<string> SourceNames => _sources.Select(s => s.Name).ToArray();

    /// <summary>A task that ends when every source has ended and every span has been handed out.</summary>
    public Task Completion => _completion;

    /// <summary>The tracer's counters now.</summary>
    public TracerStatistics Statistics => new(
        _pumps.Sum(p => p.Decoded),
        _sources.Sum(s => s.LostEvents),
        _pumps.Sum(p => p.Malformed),
        _dispatcher.DroppedForSlowConsumers,
        _dispatcher.SinkFailures,
        _decoration.Routes.Overflowed,
        _dispatcher.DroppedForSlowSinks);

    /// <summary>
    /// The spans finished from now on, in order, until the tracer is disposed, its sources
    /// end, or <paramref name="cancellationToken"/> is cancelled. Each call is an independent
    /// consumer with its own buffer (<see cref="BeylaOptions.ConsumerBufferCapacity"/>).
    /// </summary>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The spans.</returns>
    public IAsyncEnumerable<HttpSpan> Spans(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        SpanBatchQueue subscription = _dispatcher.Subscribe(_options.ConsumerBufferCapacity);
        return ReadAsync(subscription, cancellationToken);
    }

    private async IAsyncEnumerable<HttpSpan> ReadAsync(SpanBatchQueue subscription, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        try
        {
            while (await subscription.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                // Checked per span: a consumer that cancels gets nothing more, even with spans buffered
                // (WaitToReadAsync then throws OperationCanceledException).
                while (!cancellationToken.IsCancellationRequested && subscription.TryRead(out HttpSpan? span))
                    yield return span;
            }
        }
        finally
        {
            _dispatcher.Unsubscribe(subscription);
        }
    }

    private async Task RunSourceAsync(IEventSource source, PipeWriter writer)
    {
        await Task.Yield();
        try
        {
            await source.RunAsync(writer, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            Log.SourceFailed(_logger, source.Name, ex);
        }
        finally
        {
            await writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    private async Task FinishAsync()
    {
        try
        {
            await Task.WhenAll(_tasks).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.SourceFailed(_logger, "pipeline", ex);
        }
        finally
        {
            _dispatcher.Complete();
        }
        await _dispatcher.Completion.ConfigureAwait(false);
    }

    /// <summary>
    /// Stops the sources (detaching every kernel program), ends the consumers, waits for the
    /// pipeline and disposes the sinks the tracer owns (see <see cref="BeylaBuilder.AddSink(ISpanSink, bool)"/>).
    /// </summary>
    /// <returns>A task that ends when everything is released.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        await _stopping.CancelAsync().ConfigureAwait(false);
        // Sources stop on cancellation. The pipeline then drains; a sink that never returns
        // must not hold the dispose (and the kernel programs) forever.
        await Task.WhenAll(_producers).ConfigureAwait(false);
        try
        {
            await _completion.WaitAsync(DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.DrainAbandoned(_logger, DrainTimeout.TotalSeconds);
            _dispatcher.Complete();
        }
        foreach (IEventSource source in _sources)
        {
            try
            {
                await source.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.SourceFailed(_logger, source.Name, ex);
            }
        }
        foreach (ISpanSink sink in _ownedSinks)
        {
            try
            {
                if (sink is IAsyncDisposable asyncDisposable)
                    await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                else
                    (sink as IDisposable)?.Dispose();
            }
            catch (Exception ex)
            {
                Log.SinkFailed(_logger, sink.GetType().Name, ex.GetType().Name, ex);
            }
        }
        _stopping.Dispose();
    }
}
