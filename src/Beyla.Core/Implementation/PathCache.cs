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
        ref Entry? slot = ref s_entries[hash & (Slots - 1)];
        Entry? entry = Volatile.Read(ref slot);
        if (entry is not null && entry.Hash == hash && entry.Bytes.AsSpan().SequenceEqual(path))
            return entry.Value;
        string value = Encoding.ASCII.GetString(path);
        Volatile.Write(ref slot, new Entry(hash, path.ToArray(), value));
        return value;
    }

    private static int Hash(ReadOnlySpan<byte> bytes)
    {
        uint h = 2166136261;
        foreach (byte b in bytes)
            h = (h ^ b) * 16777619;
        return (int)h;
    }

    private sealed record Entry(int Hash, byte[] Bytes, string Value);
}
