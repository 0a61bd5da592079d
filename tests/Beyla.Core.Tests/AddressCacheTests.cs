using System.Net;
using System.Net.Sockets;
using Beyla.Implementation;

namespace Beyla.Tests;

public sealed class AddressCacheTests
{
    private static byte[] Bytes(IPAddress address) => address.GetAddressBytes();

    [Fact]
    public void AnAddressSeenAgainIsTheSameInstance()
    {
        var cache = new AddressCache();
        IPAddress v4 = cache.GetV4(Bytes(IPAddress.Parse("10.0.0.5")));
        IPAddress v6 = cache.GetV6(Bytes(IPAddress.Parse("fd00::5")));

        Assert.Same(v4, cache.GetV4(Bytes(IPAddress.Parse("10.0.0.5"))));
        Assert.Same(v6, cache.GetV6(Bytes(IPAddress.Parse("fd00::5"))));
        Assert.Equal(IPAddress.Parse("10.0.0.5"), v4);
        Assert.Equal(IPAddress.Parse("fd00::5"), v6);
        Assert.Equal(AddressFamily.InterNetworkV6, v6.AddressFamily);
        Assert.Same(IPAddress.Loopback, cache.GetV4(Bytes(IPAddress.Loopback)));
    }

    [Fact]
    public void EveryAddressDecodesToItselfWhenMoreAreSeenThanTheCacheHolds()
    {
        var cache = new AddressCache();
        var rng = new Random(7);
        var addresses = new List<IPAddress>();
        for (int i = 0; i < 5000; i++)
        {
            addresses.Add(new IPAddress(BitConverter.GetBytes(rng.Next())));
            byte[] v6 = new byte[16];
            rng.NextBytes(v6);
            v6[0] = 0xfd;
            addresses.Add(new IPAddress(v6));
            // only the last 8 bytes differ from the one before: both halves make the key
            v6 = (byte[])v6.Clone();
            v6[15] ^= 1;
            addresses.Add(new IPAddress(v6));
        }
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (IPAddress a in addresses)
            {
                IPAddress decoded = a.AddressFamily == AddressFamily.InterNetwork ? cache.GetV4(Bytes(a)) : cache.GetV6(Bytes(a));
                Assert.Equal(a, decoded);
            }
        }
    }
}
