using System.Collections.Concurrent;

namespace Beyla.Bpf.Tests;

/// <summary>Collects a tracer's spans in the background so a test can wait for a count, then a quiet period.</summary>
internal sealed class SpanCollector : IAsyncDisposable
{
    private readonly ConcurrentQueue<HttpSpan> _spans = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reading;

    public SpanCollector(BeylaTracer tracer)
    {
        IAsyncEnumerable<HttpSpan> spans = tracer.Spans(_stop.Token);
        _reading = Task.Run(async () =>
        {
            try
            {
                await foreach (HttpSpan span in spans)
                    _spans.Enqueue(span);
            }
            catch (OperationCanceledException)
            {
            }
        });
    }

    /// <summary>The spans collected so far.</summary>
    public IReadOnlyList<HttpSpan> Spans => [.. _spans];

    /// <summary>Waits until at least <paramref name="count"/> spans matching <paramref name="filter"/> arrived (or 15 s), then 500 ms more to catch extras.</summary>
    public async Task<List<HttpSpan>> WaitForAsync(int count, Func<HttpSpan, bool>? filter = null)
    {
        filter ??= _ => true;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (_spans.Count(filter) < count && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        await Task.Delay(500);
        return _spans.Where(filter).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reading;
        _stop.Dispose();
    }
}
