using Beyla.Interop;
using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

/// <summary>
/// The TLS probe set (bpf/tls.bpf.c): uprobes on OpenSSL's read and write functions, in
/// every libssl a traced process maps and in its executable when OpenSSL is linked in
/// (Node). Shares the socket probe set's maps, so both feed one tracker. Probes are attached
/// per traced process, so that untraced programs using the same libssl pay nothing (a uprobe
/// costs every process that maps the file, traced or not); they follow the traced processes:
/// made when a process starts or loads libssl (the kernel says so at once), released when it
/// goes.
/// </summary>
internal sealed class TlsProbeSet : IDisposable
{
    private static readonly (string Program, string Function, bool Return)[] s_probes =
    [
        ("ssl_handshake_enter", "SSL_do_handshake", false), ("ssl_handshake_exit", "SSL_do_handshake", true),
        ("ssl_read_enter", "SSL_read", false), ("ssl_read_exit", "SSL_read", true),
        ("ssl_read_ex_enter", "SSL_read_ex", false), ("ssl_read_ex_exit", "SSL_read_ex", true),
        ("ssl_write_enter", "SSL_write", false), ("ssl_write_exit", "SSL_write", true),
        ("ssl_write_ex_enter", "SSL_write_ex", false), ("ssl_write_ex_exit", "SSL_write_ex", true),
    ];

    private static readonly HashSet<string> s_functions = new(s_probes.Select(p => p.Function), StringComparer.Ordinal);

    private static readonly string[] s_sharedMaps =
        ["traced_pids", "traced_comms", "connections", "events", "scratch_space", "stats", "tls_calls", "ssl_fds", "tls_pending", "tls_pending_process", "socket_ssl", "queued_requests"];

    private static readonly string[] s_systemLibraries =
    [
        "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.1.1",
        "/usr/lib64/libssl.so.3", "/usr/lib64/libssl.so.1.1", "/usr/lib/libssl.so.3", "/usr/lib/libssl.so.1.1",
    ];

    /// <summary>The system's libssl files that exist, resolved once.</summary>
    private static readonly string[] s_systemLibraryFiles =
        [.. s_systemLibraries.Select(LibC.RealPath).OfType<string>().Distinct(StringComparer.Ordinal)];

    private readonly BpfObject _object;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<(int Pid, string File), List<BpfLinkHandle>> _attached = [];
    private readonly HashSet<string> _filesWithoutOpenSsl = new(StringComparer.Ordinal);
    private readonly HashSet<string> _forEveryProcess = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, ulong>> _offsets = new(StringComparer.Ordinal);

    public TlsProbeSet(BpfObject socketProbes, in ProbeSettings settings, ILogger logger)
    {
        _logger = logger;
        _object = BpfObject.Open("tls");
        try
        {
            _object.SetReadOnlyData(settings);
            foreach (string map in s_sharedMaps)
                _object.ShareMap(map, socketProbes.MapFd(map));
            _object.Load();
        }
        catch
        {
            _object.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Attaches for every process: to the system's libssl when every process is traced, and to
    /// the executables a selection names (found on PATH) when they carry OpenSSL, so that a
    /// program started later is seen from its first handshake. Only processes that map those
    /// files pay for the probes, and a named executable is the user's choice.
    /// </summary>
    public void AttachForEveryProcess(bool systemLibraries, IEnumerable<string> executableNames)
    {
        IEnumerable<string> onPath = executableNames.SelectMany(name =>
            (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => Path.Combine(dir, name)));
        IEnumerable<string> files = onPath.Select(LibC.RealPath).OfType<string>();
        if (systemLibraries)
            files = s_systemLibraryFiles.Concat(files);
        lock (_lock)
        {
            foreach (string file in files.Distinct(StringComparer.Ordinal))
            {
                if (_forEveryProcess.Add(file))
                    Attach(-1, file);
            }
        }
    }

    /// <summary>
    /// Attaches to the copies of OpenSSL the traced processes map (only those processes pay
    /// for the probes), and releases what processes no longer traced had.
    /// </summary>
    public void Sync(IReadOnlyCollection<int> pids)
    {
        lock (_lock)
        {
            var wanted = new HashSet<(int, string)>();
            foreach (int pid in pids)
            {
                foreach (string file in OpenSslCandidates(pid))
                {
                    if (_forEveryProcess.Contains(file))
                        continue;
                    wanted.Add((pid, file));
                    AttachIfNew(pid, file);
                }
            }
            foreach ((int Pid, string File) key in _attached.Keys.Where(k => k.Pid != -1 && !wanted.Contains(k)).ToArray())
            {
                foreach (BpfLinkHandle link in _attached[key])
                    link.Dispose();
                _attached.Remove(key);
                TlsLog.Released(_logger, key.File, key.Pid);
            }
        }
    }

    /// <summary>A traced process started a program or opened a libssl: attach to what it maps now.</summary>
    public void Refresh(int pid)
    {
        lock (_lock)
        {
            foreach (string file in OpenSslCandidates(pid))
                AttachIfNew(pid, file);
        }
    }

    /// <summary>A traced process opened a libssl: attach to it for that process before it is used.</summary>
    public void AttachFile(int pid, string path)
    {
        string? file = LibC.RealPath(path.StartsWith('/') ? path : $"/proc/{pid}/cwd/{path}");
        if (file is null)
            return;
        lock (_lock)
            AttachIfNew(pid, file);
    }

    /// <summary>Attaches to <paramref name="file"/> for <paramref name="pid"/> unless that is done, covered for every process, or known to be useless.</summary>
    private void AttachIfNew(int pid, string file)
    {
        if (!_forEveryProcess.Contains(file) && !_attached.ContainsKey((pid, file)) && !_filesWithoutOpenSsl.Contains(file))
            Attach(pid, file);
    }

    private void Attach(int pid, string file)
    {
        var links = new List<BpfLinkHandle>();
        try
        {
            if (!_offsets.TryGetValue(file, out Dictionary<string, ulong>? offsets))
            {
                offsets = ElfSymbols.FindFunctions(file, s_functions);
                _offsets[file] = offsets;
            }
            foreach ((string program, string function, bool isReturn) in s_probes)
            {
                if (!offsets.TryGetValue(function, out ulong offset))
                    continue;
                BpfLinkHandle? link = _object.AttachUprobe(program, pid, file, function, isReturn, offset);
                if (link is not null)
                    links.Add(link);
            }
        }
        catch (Exception ex) when (ex is BeylaException or IOException or UnauthorizedAccessException)
        {
            TlsLog.AttachFailed(_logger, file, pid, ex.Message);
        }
        if (links.Count == 0)
        {
            // No OpenSSL functions in the file: never try it again. (An attach that found
            // the functions but no process, because it just exited, says nothing of the file.)
            if (_offsets.TryGetValue(file, out Dictionary<string, ulong>? found) && found.Count == 0)
                _filesWithoutOpenSsl.Add(file);
            return;
        }
        _attached[(pid, file)] = links;
        TlsLog.Attached(_logger, file, pid, links.Count);
    }

    /// <summary>
    /// The system's libssl (attached for the process even before it loads it: the probes cost
    /// nothing until it does, and there is no race with its first handshake), the libssl
    /// files it maps, and its executable (OpenSSL may be linked in).
    /// </summary>
    private static HashSet<string> OpenSslCandidates(int pid)
    {
        var files = new HashSet<string>(StringComparer.Ordinal);
        if (!Directory.Exists($"/proc/{pid}"))
            return files;
        files.UnionWith(s_systemLibraryFiles);
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/maps"))
            {
                int slash = line.IndexOf('/', StringComparison.Ordinal);
                if (slash < 0)
                    continue;
                string path = line[slash..];
                if (Path.GetFileName(path).StartsWith("libssl.so", StringComparison.Ordinal))
                    files.Add(path);
            }
            string? exe = new FileInfo($"/proc/{pid}/exe").LinkTarget;
            if (exe is not null && !exe.EndsWith(" (deleted)", StringComparison.Ordinal))
                files.Add(exe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // the process is gone
        }
        return files;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (List<BpfLinkHandle> links in _attached.Values)
            {
                foreach (BpfLinkHandle link in links)
                    link.Dispose();
            }
            _attached.Clear();
        }
        _object.Dispose();
    }
}
