namespace Beyla.Implementation;

/// <summary>
/// Resolves and caches the service name of each traced process: the user's resolver, else the
/// command name the kernel read when the span ended (so a process that has exited since still
/// has its name), else <c>/proc/PID/comm</c>. A cached name is kept while the record's command
/// name is the same; the user's resolver and <c>/proc</c> are asked again after
/// <see cref="TimeToLive"/>, so that a reused pid does not keep a dead process's name for long.
/// The cache is bounded.
/// </summary>
internal sealed class ServiceNames
{
    public const string Unknown = "unknown_service";
    private static readonly TimeSpan TimeToLive = TimeSpan.FromSeconds(5);
    private const int MaxEntries = 4096;

    private readonly Func<int, string?>? _resolver;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, Entry> _entries = new();
    private readonly Dictionary<string, string> _interned = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public ServiceNames(Func<int, string?>? resolver) => _resolver = resolver;

    /// <summary>The name of process <paramref name="pid"/>, from the user's resolver or <c>/proc</c>.</summary>
    public string Get(int pid) => Get(pid, default);

    /// <summary>The name of process <paramref name="pid"/>, whose command name the kernel read as <paramref name="comm"/> (16 bytes, NUL-padded; empty or all zero when unknown).</summary>
    public string Get(int pid, ReadOnlySpan<byte> comm)
    {
        ulong low = comm.Length >= 16 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(comm) : 0;
        ulong high = comm.Length >= 16 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(comm[8..]) : 0;
        bool fromKernel = _resolver is null && low != 0;
        long now = Environment.TickCount64;
        if (_entries.TryGetValue(pid, out Entry entry) && entry.CommLow == low && entry.CommHigh == high && (fromKernel || now < entry.ExpiresAt))
            return entry.Name; // the hot path: no lock, no allocation
        string name = Resolve(pid, low != 0 ? comm[..16] : default);
        lock (_lock)
        {
            if (_entries.Count >= MaxEntries)
                _entries.Clear();
            // One string instance per name: routes are cached per service by reference.
            if (!_interned.TryGetValue(name, out string? interned))
            {
                if (_interned.Count >= MaxEntries)
                    _interned.Clear();
                _interned[name] = interned = name;
            }
            _entries[pid] = new Entry(interned, now + (long)TimeToLive.TotalMilliseconds, low, high);
            return interned;
        }
    }

    private string Resolve(int pid, ReadOnlySpan<byte> comm)
    {
        string? name = null;
        if (_resolver is not null)
        {
            try
            {
                name = _resolver(pid);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                name = null; // a failing user resolver falls back to the process name
            }
        }
        if (string.IsNullOrEmpty(name) && !comm.IsEmpty)
        {
            int end = comm.IndexOf((byte)0);
            name = System.Text.Encoding.UTF8.GetString(end < 0 ? comm : comm[..end]);
        }
        if (string.IsNullOrEmpty(name))
            name = ReadComm(pid);
        return name;
    }

    private static string ReadComm(int pid)
    {
        try
        {
            string comm = File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n');
            return comm.Length == 0 ? Unknown : comm;
        }
        catch (IOException)
        {
            return Unknown;
        }
        catch (UnauthorizedAccessException)
        {
            return Unknown;
        }
    }

    private readonly record struct Entry(string Name, long ExpiresAt, ulong CommLow, ulong CommHigh);
}
