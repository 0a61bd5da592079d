using System.Text;
using Beyla.Implementation;

namespace Beyla.Tests;

public sealed class PathCacheTests
{
    [Fact]
    public void ARepeatedPathIsTheSameString()
    {
        string first = PathCache.Get("/api/orders/17/items"u8);

        string second = PathCache.Get("/api/orders/17/items"u8);

        Assert.Equal("/api/orders/17/items", first);
        Assert.Same(first, second);
    }

    [Theory]
    [InlineData("/api/users/{0}")]          // paths that differ only at the end
    [InlineData("/{0}/api/users/profile")]  // only at the start
    [InlineData("/api/v1/{0}/x/settings/a")] // only in the middle
    public void PathsThatDifferInOnePlaceMostlyGetSlotsOfTheirOwn(string pattern)
    {
        // 100 paths in 1,024 slots: a hash of every byte spreads them, a few sharing a slot (each
        // lookup checks the bytes, so sharing costs a string, never a wrong path); a hash that
        // ignored the differing bytes would put them all in one slot. Slots are counted, not what
        // stays cached: the cache is shared with the tests that run alongside, whose paths evict.
        string[] paths = Enumerable.Range(0, 100).Select(i => string.Format(System.Globalization.CultureInfo.InvariantCulture, pattern, 1000 + i)).ToArray();
        string[] cached = paths.Select(p => PathCache.Get(Encoding.ASCII.GetBytes(p))).ToArray();

        int slots = paths.Select(p => PathCache.SlotOf(Encoding.ASCII.GetBytes(p))).Distinct().Count();

        Assert.All(paths, (p, i) => Assert.Equal(p, cached[i]));
        Assert.True(slots >= 85, $"100 paths in {slots} slots");
    }
}
