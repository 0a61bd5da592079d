using System.Diagnostics;
using Beyla.Implementation;

namespace Beyla.Tests;

public sealed class MonotonicClockTests
{
    [Fact]
    public void NowConvertsToTheCurrentWallClockTime()
    {
        var clock = new MonotonicClock();

        DateTimeOffset before = DateTimeOffset.UtcNow;
        DateTimeOffset converted = clock.ToWallClock(MonotonicClock.MonotonicNow());
        DateTimeOffset after = DateTimeOffset.UtcNow;

        // The offset is taken once; allow for clock granularity, not for a wrong unit or epoch.
        Assert.InRange(converted, before - TimeSpan.FromSeconds(1), after + TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.Zero, converted.Offset);
    }

    [Fact]
    public void WallClockAdvancesWithMonotonicNanoseconds()
    {
        var clock = new MonotonicClock();
        long t = MonotonicClock.MonotonicNow();

        TimeSpan delta = clock.ToWallClock(t + 1_500_000_000) - clock.ToWallClock(t);

        Assert.Equal(TimeSpan.FromMilliseconds(1500), delta);
    }

    [Fact]
    public void MonotonicNowFollowsTheStopwatch()
    {
        long stopwatchBefore = Stopwatch.GetTimestamp();
        long now = MonotonicClock.MonotonicNow();
        long stopwatchAfter = Stopwatch.GetTimestamp();

        Assert.InRange(now, MonotonicClock.FromStopwatchTimestamp(stopwatchBefore), MonotonicClock.FromStopwatchTimestamp(stopwatchAfter));
        Assert.True(now > 0);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(1_000_000_007L)]
    [InlineData(5_000_000_000_000L)]
    public void StopwatchTimestampConversionsRoundTrip(long nanoseconds)
    {
        long timestamp = MonotonicClock.ToStopwatchTimestamp(nanoseconds);
        long back = MonotonicClock.FromStopwatchTimestamp(timestamp);

        // Exact when the stopwatch counts nanoseconds (Linux); within one tick otherwise.
        double nsPerTick = 1e9 / Stopwatch.Frequency;
        Assert.InRange(back, nanoseconds - (long)Math.Ceiling(nsPerTick), nanoseconds);
        Assert.Equal(TimeSpan.FromSeconds(1).TotalNanoseconds, MonotonicClock.FromStopwatchTimestamp(Stopwatch.Frequency), 0);
    }
}
