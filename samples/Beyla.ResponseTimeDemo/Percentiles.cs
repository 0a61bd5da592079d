namespace Beyla.ResponseTimeDemo;

/// <summary>p50, p99 and mean of a set of durations in milliseconds.</summary>
internal sealed record Percentiles(double P50, double P99, double Mean)
{
    public static Percentiles Of(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        if (sorted.Length == 0)
            return new Percentiles(0, 0, 0);
        double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return new Percentiles(At(0.5), At(0.99), sorted.Average());
    }
}
