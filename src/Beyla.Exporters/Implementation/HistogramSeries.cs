namespace Beyla.Exporters.Implementation;

/// <summary>One histogram series: cumulative-on-write bucket counts, sum and count. Guarded by its aggregator's lock.</summary>
internal sealed class HistogramSeries
{
    private readonly double[] _bounds;

    public HistogramSeries(double[] bounds, string labels)
    {
        _bounds = bounds;
        Labels = labels;
        BucketCounts = new long[bounds.Length + 1];
    }

    /// <summary>The Prometheus label text, <c>a="x",b="y"</c> (empty when none), built once.</summary>
    public string Labels { get; }

    /// <summary>Observations per bucket (not cumulative); the last one is +Inf.</summary>
    public long[] BucketCounts { get; }

    public double Sum { get; private set; }

    public long Count { get; private set; }

    public void Record(double value)
    {
        int i = Array.BinarySearch(_bounds, value);
        if (i < 0)
            i = ~i; // first bound greater than value; bounds are inclusive upper limits (le)
        BucketCounts[i]++;
        Sum += value;
        Count++;
    }
}
