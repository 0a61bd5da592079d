using System.Globalization;

namespace Beyla.Implementation;

/// <summary>
/// Resolves a <see cref="ProcessSelector"/> to the process ids (tgids) running now, from /proc.
/// Called every <see cref="BeylaOptions.ProcessRescanInterval"/>: for port selectors, the open
/// files of a process are listed only when the process was not looked at by the last call, when the
/// set of listening sockets changed, when a process that held one is gone (it may have handed its
/// socket over to another), or at least every <see cref="FullWalkEvery"/> calls (a socket handed
/// to a running process over a Unix socket changes none of that). A process that exits and whose
/// id is taken by another between two calls keeps the old answer until the next full walk.
/// </summary>
internal sealed class ProcessDiscovery
{
    /// <summary>Calls between two walks of every process's open files.</summary>
    public const int FullWalkEvery = 10;

    private readonly ProcessSelector _selector;
    private readonly string _procRoot;
    private HashSet<long> _lastInodes = [];
    private HashSet<int> _lastChecked = [];
    private HashSet<int> _lastHolders = [];
    private int _callsSinceFullWalk = FullWalkEvery;

    public ProcessDiscovery(ProcessSelector selector, string procRoot = "/proc")
    {
        _selector = selector;
        _procRoot = procRoot;
    }

    /// <summary>Open-file listings of processes done by the last call (for tests).</summary>
    internal int ProcessesWalked { get; private set; }

    public HashSet<int> Resolve()
    {
        var result = new HashSet<int>();
        HashSet<long> listeningInodes = _selector.Ports.Count > 0 ? ListeningSockets.Find(_selector.Ports, _procRoot) : [];
        var processes = new List<(int Pid, string Dir)>();
        foreach (string dir in Directory.EnumerateDirectories(_procRoot))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                processes.Add((pid, dir));
        }
        // A listener's holder that is gone may have handed its socket to a process already
        // looked at (a restart that passes the listening socket on): look at them all again.
        bool holderGone = _lastHolders.Count > 0 && _lastHolders.Except(processes.Select(p => p.Pid)).Any();
        bool fullWalk = ++_callsSinceFullWalk >= FullWalkEvery || holderGone || !listeningInodes.SetEquals(_lastInodes);
        if (fullWalk)
            _callsSinceFullWalk = 0;
        var checkedPids = new HashSet<int>();
        var holders = new HashSet<int>();
        ProcessesWalked = 0;
        foreach ((int pid, string dir) in processes)
        {
            try
            {
                if (_selector.ProcessIds.Contains(pid)
                    || (_selector.ExecutableNames.Count > 0 && MatchesExecutable(dir)))
                {
                    result.Add(pid);
                }
                else if (listeningInodes.Count > 0)
                {
                    bool holds = !fullWalk && _lastChecked.Contains(pid) ? _lastHolders.Contains(pid) : WalkOpenFiles(dir, listeningInodes);
                    checkedPids.Add(pid);
                    if (holds)
                    {
                        holders.Add(pid);
                        result.Add(pid);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process exited while we looked, or is not ours to inspect.
            }
        }
        _lastInodes = listeningInodes;
        _lastChecked = checkedPids;
        _lastHolders = holders;
        return result;
    }

    private bool WalkOpenFiles(string dir, HashSet<long> inodes)
    {
        ProcessesWalked++;
        return HoldsSocket(dir, inodes);
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
}
