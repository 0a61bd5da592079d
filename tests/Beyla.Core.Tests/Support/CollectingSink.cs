namespace Beyla.Tests.Support;

/// <summary>A sink that keeps every span it receives, in order, and counts its batches.</summary>
internal sealed class CollectingSink : ISpanSink
{
    private readonly Lock _lock = new();
    private readonly List<HttpSpan> _spans = [];
    private int _batches;

    public int Batches
    {
        get
        {
            lock (_lock)
                return _batches;
        }
    }

    public IReadOnlyList<HttpSpan> Spans
    {
        get
        {
            lock (_lock)
                return [.. _spans];
        }
    }

    public void Export(ReadOnlySpan<HttpSpan> spans)
    {
        lock (_lock)
        {
            _batches++;
            foreach (HttpSpan span in spans)
                _spans.Add(span);
        }
    }
}
