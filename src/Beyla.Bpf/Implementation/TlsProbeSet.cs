using Beyla.Interop;
using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

/// <summary>
/// The TLS probe set (bpf/tls.bpf.c): uprobes on OpenSSL's read and write functions, in
/// every libssl a traced process maps and in its executable when OpenSSL is linked in
/// (Node). Shares the socket probe set's maps, so both feed one tracker. Probes are attached
/// per file, for every process (the BPF side returns at once for processes not traced), and
/// follow the traced processes: made when a process (or a library it loads) appears,
/// released when no traced process uses the file any more.
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

    private static readonly string[] s_sharedMaps =
        ["traced_pids", "traced_comms", "connections", "events", "scratch_space", "stats", "tls_calls", "ssl_fds", "tls_pending", "tls_pending_process", "socket_ssl", "queued_requests"];

    private static readonly string[] s_systemLibraries =
    [
        "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libssl.so.1.1",
        "/usr/lib64/libssl.so.3", "/usr/lib64/libssl.so.1.1", "/usr/lib/libssl.so.3", "/usr/lib/libssl.so.1.1",
    ];

    private readonly BpfObject _object;
    private readonly ILogger _logger;
    private readonly Dictionary<string, List<BpfLinkHandle>> _attached = new(StringComparer.Ordinal);
    private readonly HashSet<string> _filesWithoutOpenSsl = new(StringComparer.Ordinal);
    private readonly HashSet<string> _pinned = new(StringComparer.Ordinal);

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

    /// <summary>Files with OpenSSL that the probes are attached to.</summary>
    public IReadOnlyCollection<string> AttachedFiles => _attached.Keys;

    /// <summary>
    /// Attaches, for the life of the tracer, to the system's libssl and to the executables the
    /// selection names (found on PATH) when they carry OpenSSL: a process that starts later,
    /// or loads libssl late, is traced from its first handshake. Probes are per file, for every
    /// process; they return at once in processes that are not traced.
    /// </summary>
    public void AttachPinned(IEnumerable<string> executableNames)
    {
        IEnumerable<string> onPath = executableNames.SelectMany(name =>
            (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => Path.Combine(dir, name)));
        foreach (string file in s_systemLibraries.Concat(onPath).Select(LibC.RealPath).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            if (_pinned.Add(file))
                Attach(file);
        }
    }

    /// <summary>Attaches to the copies of OpenSSL the traced processes use, and releases those no traced process uses any more.</summary>
    public void Sync(IReadOnlyCollection<int> pids)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (int pid in pids)
            wanted.UnionWith(OpenSslCandidates(pid));
        foreach (string file in wanted)
        {
            if (!_attached.ContainsKey(file) && !_filesWithoutOpenSsl.Contains(file))
                Attach(file);
        }
        foreach (string file in _attached.Keys.Where(f => !wanted.Contains(f) && !_pinned.Contains(f)).ToArray())
        {
            foreach (BpfLinkHandle link in _attached[file])
                link.Dispose();
            _attached.Remove(file);
            TlsLog.Released(_logger, file);
        }
    }

    private void Attach(string file)
    {
        var links = new List<BpfLinkHandle>();
        try
        {
            foreach ((string program, string function, bool isReturn) in s_probes)
            {
                BpfLinkHandle? link = _object.AttachUprobe(program, -1, file, function, isReturn);
                if (link is not null)
                    links.Add(link);
            }
        }
        catch (BeylaException ex)
        {
            TlsLog.AttachFailed(_logger, file, ex.Message);
        }
        if (links.Count == 0)
        {
            _filesWithoutOpenSsl.Add(file);
            return;
        }
        _attached[file] = links;
        TlsLog.Attached(_logger, file, links.Count);
    }

    /// <summary>libssl files mapped by the process, and its executable (OpenSSL may be linked in).</summary>
    private static HashSet<string> OpenSslCandidates(int pid)
    {
        var files = new HashSet<string>(StringComparer.Ordinal);
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
        foreach (List<BpfLinkHandle> links in _attached.Values)
        {
            foreach (BpfLinkHandle link in links)
                link.Dispose();
        }
        _attached.Clear();
        _object.Dispose();
    }
}
