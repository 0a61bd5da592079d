using System.Buffers.Binary;
using System.Net;

namespace Beyla.Implementation;

/// <summary>
/// The <see cref="IPAddress"/> of each address decoded lately, so that a span allocates none for
/// an address met before: a host's own addresses and its usual peers repeat. Direct-mapped: one
/// entry per slot, the newest address wins it. Entries are immutable, so a race between two
/// decoding threads costs at most a miss. The instances are shared by every span that carries the
/// address (as <see cref="IPAddress.Loopback"/> is).
/// </summary>
internal sealed class AddressCache
{
    private const int SlotBits = 10;

    private readonly V4Entry?[] _v4 = new V4Entry?[1 << SlotBits];
    private readonly V6Entry?[] _v6 = new V6Entry?[1 << SlotBits];

    /// <summary>The address in the first 4 bytes of <paramref name="bytes"/> (network order).</summary>
    public IPAddress GetV4(ReadOnlySpan<byte> bytes)
    {
        uint key = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        if (key == 0x0100007F)
            return IPAddress.Loopback;
        ref V4Entry? slot = ref _v4[(int)((key * 0x9E3779B1u) >> (32 - SlotBits))];
        V4Entry? entry = slot;
        if (entry is not null && entry.Key == key)
            return entry.Address;
        var address = new IPAddress(bytes[..4]);
        slot = new V4Entry(key, address);
        return address;
    }

    /// <summary>The IPv6 address in the 16 bytes of <paramref name="bytes"/> (network order).</summary>
    public IPAddress GetV6(ReadOnlySpan<byte> bytes)
    {
        ulong high = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        ulong low = BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]);
        ref V6Entry? slot = ref _v6[(int)(((high ^ (low * 0x9E3779B97F4A7C15ul)) * 0x9E3779B97F4A7C15ul) >> (64 - SlotBits))];
        V6Entry? entry = slot;
        if (entry is not null && entry.High == high && entry.Low == low)
            return entry.Address;
        var address = new IPAddress(bytes[..16]);
        slot = new V6Entry(high, low, address);
        return address;
    }

    private sealed record V4Entry(uint Key, IPAddress Address);

    private sealed record V6Entry(ulong High, ulong Low, IPAddress Address);
}
