namespace Beyla.Exporters;

/// <summary>Settings shared by the metric exporters.</summary>
public class MetricsOptions
{
    /// <summary>Which attributes each metric carries. Safe defaults; see <see cref="AttributeSelection"/>.</summary>
    public AttributeSelection Attributes { get; } = new();

    /// <summary>
    /// Bucket boundaries of the duration histograms, in seconds. Default: the OpenTelemetry
    /// semantic conventions' (and Beyla's) 0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10.
    /// </summary>
    public IReadOnlyList<double> DurationBuckets { get; set; } = [0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    /// <summary>Bucket boundaries of the size histograms, in bytes. Default (Beyla's): 0, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192.</summary>
    public IReadOnlyList<double> SizeBuckets { get; set; } = [0, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];

    /// <summary>
    /// Distinct attribute combinations kept per metric; further ones are folded into one
    /// series marked <c>otel_metric_overflow="true"</c>, as the OpenTelemetry SDK does. Default 2,000.
    /// </summary>
    public int MaxSeriesPerMetric { get; set; } = 2000;

    internal void Validate()
    {
        ValidateBuckets(DurationBuckets, nameof(DurationBuckets));
        ValidateBuckets(SizeBuckets, nameof(SizeBuckets));
        if (MaxSeriesPerMetric < 1)
            throw new ArgumentOutOfRangeException(nameof(MaxSeriesPerMetric), MaxSeriesPerMetric, "must be at least 1");
    }

    private static void ValidateBuckets(IReadOnlyList<double> buckets, string name)
    {
        ArgumentNullException.ThrowIfNull(buckets, name);
        for (int i = 0; i < buckets.Count; i++)
        {
            if (!double.IsFinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
                throw new ArgumentException($"{name} must be finite and strictly increasing", name);
        }
    }
}
