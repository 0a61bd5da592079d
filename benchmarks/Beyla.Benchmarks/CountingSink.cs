namespace Beyla.Benchmarks;

/// <summary>Counts what it exports, after handing it to the real sink, if any.</summary>
internal sealed class CountingSink(ISpanSink? inner) : ISpanSink
{
    private long _count;

    public long Count => Interlocked.Read(ref _count);

    public void Export(ReadOnlySpan<HttpSpan> spans)
    {
        inner?.Export(spans);
        Interlocked.Add(ref _count, spans.Length);
    }

    /// <summary>Waits, without sleeping (a 1 ms sleep would be most of a measure), until <paramref name="expected"/> spans were exported.</summary>
    public void WaitFor(long expected)
    {
        var wait = new SpinWait();
        while (Count < expected)
            wait.SpinOnce(sleep1Threshold: -1);
    }

}
