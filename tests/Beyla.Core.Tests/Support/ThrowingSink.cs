namespace Beyla.Tests.Support;

/// <summary>A sink that throws on every batch and counts how often it was called.</summary>
internal sealed class ThrowingSink : ISpanSink
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public void Export(ReadOnlySpan<HttpSpan> spans)
    {
        Interlocked.Increment(ref _calls);
        throw new InvalidOperationException("sink failure on purpose");
    }
}
