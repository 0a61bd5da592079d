namespace Beyla.Tests.Support;

/// <summary>Enumerates a <see cref="BeylaTracer.Spans"/> consumer on a background task and keeps what it saw.</summary>
internal sealed class SpanCollector
{
    private readonly Lock _lock = new();
    private readonly List<HttpSpan> _spans = [];

    private SpanCollector(IAsyncEnumerable<HttpSpan> spans, Action<HttpSpan, int>? onSpan)
    {
        Completion = Task.Run(async () =>
        {
            await foreach (HttpSpan span in spans)
            {
                int count;
                lock (_lock)
                {
                    _spans.Add(span);
                    count = _spans.Count;
                }
                onSpan?.Invoke(span, count);
            }
        });
    }

    /// <summary>Ends when the enumeration ends; faults with what the enumeration threw.</summary>
    public Task Completion { get; }

    public IReadOnlyList<HttpSpan> Spans
    {
        get
        {
            lock (_lock)
                return [.. _spans];
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
                return _spans.Count;
        }
    }

    /// <summary>Starts enumerating; <paramref name="onSpan"/> gets each span and the count so far.</summary>
    public static SpanCollector Start(IAsyncEnumerable<HttpSpan> spans, Action<HttpSpan, int>? onSpan = null) => new(spans, onSpan);

    /// <summary>Waits until at least <paramref name="count"/> spans arrived; throws <see cref="TimeoutException"/> after 10 s.</summary>
    public async Task WaitForCountAsync(int count)
    {
        DateTime deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (Count < count)
        {
            if (Completion.IsCompleted)
                throw new InvalidOperationException($"the enumeration ended after {Count} spans, {count} expected");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{Count} spans after {TestTimeouts.Default}, {count} expected");
            await Task.Delay(2);
        }
    }
}
