using System.Globalization;

namespace Beyla.Implementation;

/// <summary>Resolves a <see cref="ProcessSelector"/> to the process ids (tgids) running now, from /proc.</summary>
internal sealed class ProcessDiscovery
{
    private readonly ProcessSelector _selector;
    private readonly string _procRoot;

    public ProcessDiscovery(ProcessSelector selector, string procRoot = "/proc")
    {
        _selector = selector;
        _procRoot = procRoot;
    }

    public HashSet<int> Resolve()
    {
        var result = new HashSet<int>();
        HashSet<long> listeningInodes = _selector.Ports.Count > 0 ? ListeningSocketInodes() : [];
        foreach (string dir in Directory.EnumerateDirectories(_procRoot))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                continue;
            try
            {
                if (_selector.ProcessIds.Contains(pid)
                    || (_selector.ExecutableNames.Count > 0 && MatchesExecutable(dir))
                    || (listeningInodes.Count > 0 && HoldsSocket(dir, listeningInodes)))
                {
                    result.Add(pid);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process exited while we looked, or is not ours to inspect.
            }
        }
        return result;
    }

    private bool MatchesExecutable(string dir)
    {
        string comm = File.ReadAllText(Path.Combine(dir, "comm")).TrimEnd('\n');
        if (_selector.ExecutableNames.Contains(comm))
            return true;
        string? exe = new FileInfo(Path.Combine(dir, "exe")).LinkTarget;
        if (exe is not null && _selector.ExecutableNames.Contains(Path.GetFileName(exe.Replace(" (deleted)", "", StringComparison.Ordinal))))
            return true;
        // comm is cut at 15 characters: compare the start of longer names too.
        if (comm.Length == 15)
        {
            foreach (string name in _selector.ExecutableNames)
            {
                if (name.Length > 15 && name.StartsWith(comm, StringComparison.Ordinal))
                    return true;
            }
        }
        return false;
    }

    private static bool HoldsSocket(string dir, HashSet<long> inodes)
    {
        foreach (string fd in Directory.EnumerateFileSystemEntries(Path.Combine(dir, "fd")))
        {
            string? target = new FileInfo(fd).LinkTarget;
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)
                && long.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out long inode)
                && inodes.Contains(inode))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Inodes of TCP sockets (IPv4 and IPv6) listening on a selected port.</summary>
    private HashSet<long> ListeningSocketInodes()
    {
        var inodes = new HashSet<long>();
        foreach (string table in new[] { "net/tcp", "net/tcp6" })
        {
            string path = Path.Combine(_procRoot, table);
            if (!File.Exists(path))
                continue;
            foreach (string line in File.ReadLines(path).Skip(1))
            {
                if (TryParseListening(line, out int port, out long inode) && _selector.Ports.Contains(port))
                    inodes.Add(inode);
            }
        }
        return inodes;
    }

    /// <summary>Parses a /proc/net/tcp line: "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...".</summary>
    internal static bool TryParseListening(string line, out int port, out long inode)
    {
        port = 0;
        inode = 0;
        string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 10 || fields[3] != "0A")
            return false;
        int colon = fields[1].LastIndexOf(':');
        return colon > 0
            && int.TryParse(fields[1].AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out port)
            && long.TryParse(fields[9], NumberStyles.None, CultureInfo.InvariantCulture, out inode);
    }
}
