using System.Buffers.Binary;
using System.Text;

namespace Beyla.Implementation;

/// <summary>
/// A small direct-mapped cache of path strings keyed by their bytes, so that the paths a
/// service sees over and over do not allocate a new string per span. Thread-safe: entries
/// are immutable and replaced whole.
/// </summary>
internal static class PathCache
{
    private const int Slots = 1024;
    private const int MaxCachedLength = 96;
    private static readonly Entry?[] s_entries = new Entry?[Slots];

    public static string Get(ReadOnlySpan<byte> path)
    {
        if (path.Length > MaxCachedLength)
            return Encoding.ASCII.GetString(path);
        int hash = Hash(path);
        ref Entry? slot = ref s_entries[Slot(hash)];
        Entry? entry = Volatile.Read(ref slot);
        if (entry is not null && entry.Hash == hash && entry.Bytes.AsSpan().SequenceEqual(path))
            return entry.Value;
        string value = Encoding.ASCII.GetString(path);
        Volatile.Write(ref slot, new Entry(hash, path.ToArray(), value));
        return value;
    }

    /// <summary>The slot a path goes to (for tests: the cache itself is shared by everything in the process).</summary>
    internal static int SlotOf(ReadOnlySpan<byte> path) => Slot(Hash(path));

    private static int Slot(int hash) => hash & (Slots - 1);

    /// <summary>A hash of every byte, taken 8 bytes at a time (the last word overlaps the one before when the length is not a multiple of 8).</summary>
    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        const ulong Multiplier = 0x9E3779B97F4A7C15;
        ulong h = (ulong)bytes.Length * Multiplier;
        if (bytes.Length < 8)
        {
            foreach (byte b in bytes)
                h = (h ^ b) * Multiplier;
        }
        else
        {
            for (int i = 0; i + 8 < bytes.Length; i += 8)
                h = (h ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes[i..])) * Multiplier;
            h = (h ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes[^8..])) * Multiplier;
        }
        // Every bit of the input reaches the low bits, which pick the slot (a multiply only moves bits up).
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCD;
        h ^= h >> 33;
        return (int)h;
    }

    private sealed record Entry(int Hash, byte[] Bytes, string Value);
}
