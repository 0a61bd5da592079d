using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

/// <summary>
/// Feeds one sink from its own bounded queue on a thread of its own, so that a slow or stuck
/// sink delays only itself (and a host whose thread pool is starved does not delay the sinks):
/// the pipeline and the other sinks go on, and what does not fit in its queue is dropped for it
/// and counted. An exception is counted every time and logged once per exception type.
/// </summary>
internal sealed class SinkWorker
{
    private readonly ISpanSink _sink;
    private readonly ILogger _logger;
    private readonly SpanBatchQueue _queue;
    private readonly HashSet<Type> _failureKinds = [];
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _failures;

    public SinkWorker(ISpanSink sink, int capacity, ILogger logger)
    {
        _sink = sink;
        _logger = logger;
        _queue = new SpanBatchQueue(capacity);
        var thread = new Thread(Run)
        {
            IsBackground = true, // a sink that never returns must not keep the host alive
            Name = "beyla-sink",
        };
        thread.Start();
    }

    /// <summary>Ends when the queue was completed and the sink has been handed everything in it.</summary>
    public Task Completion => _completion.Task;

    public SpanBatchQueue Queue => _queue;

    public long Failures => Interlocked.Read(ref _failures);

    private void Run()
    {
        while (_queue.WaitToRead())
        {
            while (_queue.TryReadBatch(out QueuedBatch batch))
            {
                try
                {
                    _sink.Export(batch.Spans);
                }
                catch (Exception ex)
                {
                    Interlocked.Increment(ref _failures);
                    if (_failureKinds.Add(ex.GetType()))
                        Log.SinkFailed(_logger, _sink.GetType().Name, ex.GetType().Name, ex);
                }
                finally
                {
                    _queue.Done(batch);
                }
            }
        }
        _completion.TrySetResult();
    }
}
