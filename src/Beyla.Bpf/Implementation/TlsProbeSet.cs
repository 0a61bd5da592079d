using Beyla.Interop;
using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

/// <summary>
/// The TLS probe set (bpf/tls.bpf.c): uprobes on OpenSSL's read and write functions, in
/// every libssl a traced process maps and in its executable when OpenSSL is linked in
/// (Node). Shares the socket probe set's maps, so both feed one tracker. Attachments follow
/// the traced processes: made when a process (or a library it loads) appears, released when
/// it goes.
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
    private readonly Dictionary<(int Pid, string File), List<BpfLinkHandle>> _attached = [];
    private readonly HashSet<string> _filesWithoutOpenSsl = new(StringComparer.Ordinal);
    private readonly HashSet<string> _filesForAll = new(StringComparer.Ordinal);

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

    /// <summary>Files with OpenSSL attached to, and for how many processes.</summary>
    public int Attachments => _attached.Count;

    /// <summary>
    /// Attaches once, for all processes, to the system's libssl (the probes return at once in
    /// processes that are not traced); other copies of OpenSSL are attached per process.
    /// </summary>
    public void AttachEverywhere()
    {
        foreach (string file in s_systemLibraries.Select(LibC.RealPath).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            if (_filesForAll.Add(file))
                Attach(-1, file);
        }
    }

    /// <summary>Attaches to what the given processes map now, and releases what processes no longer traced had.</summary>
    public void Sync(IReadOnlyCollection<int> pids)
    {
        var wanted = new HashSet<(int, string)>();
        foreach (int pid in pids)
        {
            foreach (string file in OpenSslCandidates(pid))
            {
                if (_filesForAll.Contains(file))
                    continue; // already attached for every process
                wanted.Add((pid, file));
                if (!_attached.ContainsKey((pid, file)) && !_filesWithoutOpenSsl.Contains(file))
                    Attach(pid, file);
            }
        }
        foreach (var key in _attached.Keys.Where(k => k.Pid != -1 && !wanted.Contains(k)).ToArray())
        {
            foreach (BpfLinkHandle link in _attached[key])
                link.Dispose();
            _attached.Remove(key);
        }
    }

    private void Attach(int pid, string file)
    {
        var links = new List<BpfLinkHandle>();
        try
        {
            foreach ((string program, string function, bool isReturn) in s_probes)
            {
                BpfLinkHandle? link = _object.AttachUprobe(program, pid, file, function, isReturn);
                if (link is not null)
                    links.Add(link);
            }
        }
        catch (BeylaException ex)
        {
            TlsLog.AttachFailed(_logger, file, pid, ex.Message);
        }
        if (links.Count == 0)
        {
            _filesWithoutOpenSsl.Add(file);
            return;
        }
        _attached[(pid, file)] = links;
        TlsLog.Attached(_logger, file, pid, links.Count);
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
