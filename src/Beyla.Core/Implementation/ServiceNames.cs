namespace Beyla.Implementation;

/// <summary>
/// Resolves and caches the service name of each traced process: the user's resolver, else
/// <c>/proc/PID/comm</c>. Entries are re-resolved after <see cref="TimeToLive"/> so that a
/// reused pid does not keep a dead process's name for long, and the cache is bounded.
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

    public string Get(int pid)
    {
        long now = Environment.TickCount64;
        if (_entries.TryGetValue(pid, out Entry entry) && now < entry.ExpiresAt)
            return entry.Name; // the hot path: no lock
        string name = Resolve(pid);
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
            _entries[pid] = new Entry(interned, now + (long)TimeToLive.TotalMilliseconds);
            return interned;
        }
    }

    private string Resolve(int pid)
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

    private readonly record struct Entry(string Name, long ExpiresAt);
}
