using System.Diagnostics;

namespace Beyla.Implementation;

/// <summary>
/// Converts CLOCK_MONOTONIC nanoseconds (what <c>bpf_ktime_get_ns</c> and, on Linux,
/// <see cref="Stopwatch.GetTimestamp"/> return) to wall-clock time, with one offset taken
/// when the tracer starts.
/// </summary>
internal sealed class MonotonicClock
{
    private static readonly double s_nsPerTick = 1e9 / Stopwatch.Frequency;
    private readonly long _wallTicksAtZero;

    public MonotonicClock()
    {
        long before = MonotonicNow();
        DateTimeOffset wall = DateTimeOffset.UtcNow;
        long after = MonotonicNow();
        _wallTicksAtZero = wall.UtcTicks - (before / 2 + after / 2) / 100;
    }

    public static MonotonicClock Shared { get; } = new();

    public static long MonotonicNow() => (long)(Stopwatch.GetTimestamp() * s_nsPerTick);

    public DateTimeOffset ToWallClock(long monotonicNs) => new(_wallTicksAtZero + monotonicNs / 100, TimeSpan.Zero);

    public static long ToStopwatchTimestamp(long monotonicNs) =>
        Stopwatch.Frequency == 1_000_000_000 ? monotonicNs : (long)(monotonicNs / s_nsPerTick);

    public static long FromStopwatchTimestamp(long timestamp) =>
        Stopwatch.Frequency == 1_000_000_000 ? timestamp : (long)(timestamp * s_nsPerTick);
}
