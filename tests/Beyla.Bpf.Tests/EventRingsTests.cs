using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>How the ring-buffer budget is shared among CPUs, and which CPUs get a ring.</summary>
public sealed class EventRingsTests
{
    private const int MiB = 1024 * 1024;

    [Theory]
    [InlineData(16 * MiB, 1, 16 * MiB)]
    [InlineData(16 * MiB, 2, 8 * MiB)]
    [InlineData(16 * MiB, 3, 4 * MiB)]       // the largest power of two within 5.3 MiB
    [InlineData(16 * MiB, 64, 1 * MiB)]      // at least 1 MiB each
    [InlineData(512 * 1024, 2, 512 * 1024)]  // ... or the whole budget, when that is smaller
    [InlineData(4096, 8, 4096)]              // and never under a page
    public void EachCpuGetsAnEvenPowerOfTwoShareWithAFloor(int total, int cpus, int expected)
    {
        Assert.Equal(expected, EventRings.RingBytesFor(total, cpus));
    }

    [Theory]
    [InlineData("0-1\n", 8, new[] { 0, 1 })]
    [InlineData("0-3,6\n", 8, new[] { 0, 1, 2, 3, 6 })]
    [InlineData("0,2-3", 3, new[] { 0, 2 })]  // CPUs beyond the possible ones are left out
    [InlineData("5", 8, new[] { 5 })]
    [InlineData("0-x", 8, new int[0])]
    [InlineData("1-2-3", 8, new int[0])]
    public void KernelCpuListsAreParsed(string list, int possible, int[] expected)
    {
        Assert.Equal(expected, EventRings.ParseCpuList(list, possible));
    }

    [Fact]
    public void TheOnlineCpusOfThisMachineAreFound()
    {
        List<int> cpus = EventRings.OnlineCpus(Environment.ProcessorCount);
        Assert.NotEmpty(cpus);
        Assert.Equal(cpus.Distinct().Order(), cpus);
    }
}
