using System.Runtime.InteropServices;
using Beyla.Interop;
using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

/// <summary>
/// The TLS probe set (bpf/tls.bpf.c): uprobes on OpenSSL's read, write and handshake functions (and SSL_set0_wbio), in
/// every libssl a traced process maps and in its executable when OpenSSL is linked in
/// (Node). Shares the socket probe set's maps, so both feed one tracker. Probes are attached
/// per traced process, so that untraced programs using the same libssl pay nothing (a uprobe
/// costs every process that maps the file, traced or not); they follow the traced processes:
/// made when a process starts or loads libssl (the kernel says so at once), released when it
/// goes. They are not there at once: attaching takes the kernel a grace period or more (the links
/// 15–20 ms here) and this thread a few milliseconds, so a program that makes its first SSL calls
/// sooner after it starts or loads a libssl not known in advance (curl's first request goes about
/// 8 ms after its exec) is not traced for them. Where the kernel has uprobe_multi links that it filters by process (6.10; 6.6.35 and
/// 6.9.6: earlier ones filtered by thread), a process's probes are such links; elsewhere (or with
/// BEYLA_PERF_UPROBES=1) they are perf-event uprobes, each a per-task perf event: the kernel
/// switches them with the process at every context switch, and a traced process then pays about
/// 4.5 µs of CPU per request of a server that blocks between requests (nginx at 10,000 requests/s),
/// TLS or not (benchmarks/README.md).
/// Attaching and releasing is slow (releasing a perf-event uprobe waits for RCU grace periods
/// under the kernel's global event mutex: about 0.1 s per probe here, eleven probes per process and file;
/// the links are two per process and file, one for the entries and one for the returns), so
/// after construction it is done by a thread of its own, in order, and the ring-buffer reader
/// never waits for it.
/// </summary>
internal sealed class TlsProbeSet : IDisposable
{
    // Each function's entry: its program for perf-event uprobes, and its attach cookie for the
    // one entry program of the uprobe_multi links (direction, 1 read, 2 write, 0 the handshake;
    // CookieEx for the _ex variants; CookieSetWbio: bpf/tls.bpf.c). Every return but
    // SSL_set0_wbio's (which is not probed) goes to ExitProgram.
    private static readonly (string Function, string Program, ulong Cookie)[] s_entries =
    [
        ("SSL_do_handshake", "ssl_handshake_enter", 0),
        ("SSL_read", "ssl_read_enter", 1), ("SSL_read_ex", "ssl_read_ex_enter", 1 | CookieEx),
        ("SSL_write", "ssl_write_enter", 2), ("SSL_write_ex", "ssl_write_ex_enter", 2 | CookieEx),
        ("SSL_set0_wbio", "ssl_set0_wbio_enter", CookieSetWbio),
    ];

    // Where public functions begin with an instruction the kernel single-steps, and a pair of them
    // (Callers) both call first the same function, which begins with a push: that function instead
    // of Replaced, with the _ex variants' arguments (ssl, buf, num, size_t *bytes; 1 on success) or,
    // with CookieCountInR8, flags before the count's address. OpenSSL's ssl_read_internal and
    // ssl_write_internal (ElfSymbols.SharedFirstCallee), whose callers' own call shows where the
    // count's address goes (Register). From OpenSSL 3.3 SSL_write_ex tail-calls SSL_write_ex2, so
    // SSL_write_ex2 is SSL_write's partner, and SSL_write_ex has no probe of its own where it only
    // jumps there (ElfSymbols.TailJumpsTo); else it keeps its probe: its calls reach the internal
    // function's too, and the inner call's note, taken last, is the one reported.
    private static readonly (string[] Callers, string[] Replaced, string Function, string Program, ulong Cookie, CountRegister Register)[] s_internalEntries =
    [
        (["SSL_read", "SSL_read_ex"], ["SSL_read", "SSL_read_ex"], "ssl_read_internal", "ssl_read_ex_enter", 1 | CookieEx, CountRegister.Rcx),
        (["SSL_write", "SSL_write_ex"], ["SSL_write", "SSL_write_ex"], "ssl_write_internal", "ssl_write_ex_enter", 2 | CookieEx, CountRegister.Rcx),
        (["SSL_write", WriteWithFlags], ["SSL_write"], WriteInternalWithFlags, "ssl_write_flags_enter", 2 | CookieEx | CookieCountInR8, CountRegister.R8),
    ];

    private const string WriteWithFlags = "SSL_write_ex2";
    private const string WriteEx = "SSL_write_ex";
    private const string WriteInternalWithFlags = "ssl_write_internal (flags)";

    /// <summary>Every function a file's probes may be at, the internal ones included, with its entry program and cookie.</summary>
    private static readonly (string Function, string Program, ulong Cookie)[] s_probedFunctions =
        [.. s_entries, .. s_internalEntries.Select(e => (e.Function, e.Program, e.Cookie))];

    // not probed: what they call first tells a helper shared with SSL_read's pair from ssl_read_internal
    private static readonly string[] s_peek = ["SSL_peek", "SSL_peek_ex"];

    private const ulong CookieEx = 0x100;
    private const ulong CookieSetWbio = 0x200;
    private const ulong CookieCountInR8 = 0x400;

    private static bool ReturnProbed(ulong cookie) => (cookie & CookieSetWbio) == 0;

    private const string EntryProgram = "ssl_enter";
    private const string ExitProgram = "ssl_exit";

    private static readonly HashSet<string> s_functions = new([.. s_entries.Select(p => p.Function), WriteWithFlags, .. s_peek], StringComparer.Ordinal);

    private static readonly string[] s_sharedMaps =
        ["traced_pids", "traced_pid_bits", "tls_pid_bits", "traced_comms", "connections", "socket_conns", "event_rings", "scratch_space", "stats", "tls_calls", "ssl_fds", "tls_pending", "tls_pending_process", "tls_ciphertexts", "tls_ciphertext_until", "ssl_mem_wbio", "socket_ssl", "queued_requests", "reader_asleep", "http2_reported"];

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
    private readonly Dictionary<(int Pid, string File), List<SafeHandle>> _attached = [];
    private readonly HashSet<string> _filesWithoutOpenSsl = new(StringComparer.Ordinal);
    private readonly HashSet<string> _forEveryProcess = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, ulong>> _offsets = new(StringComparer.Ordinal);
    private readonly HashSet<(string Command, int Event)> _unprobedHandshakesLogged = []; // under _lock
    private readonly PidBitmap _probedBits; // tls_probed_pid_bits: processes with probes of their own in place
    private readonly PidBitmap _libsslBits; // libssl_pid_bits: traced processes that map a libssl
    private readonly System.Collections.Concurrent.BlockingCollection<Action> _work = [];
    private readonly Queue<SafeHandle> _toRelease = new(); // under _lock
    private readonly bool _multiLinks;

    /// <summary>Probes of processes that have gone, waiting to be released, beyond which no process gets probes of its own (about 100 processes' worth).</summary>
    internal const int MaxPendingReleases = 1000;
    private readonly Thread _worker;
    private bool _backlogReported; // under _lock
    private HashSet<int> _synced = []; // under _lock: the processes of the last Sync
    private int _syncsSinceFullCheck = FullCheckEvery; // under _lock

    /// <summary>Syncs between two readings of every traced process's memory map.</summary>
    internal const int FullCheckEvery = 10;

    public TlsProbeSet(BpfObject socketProbes, in ProbeSettings settings, ILogger logger)
    {
        _logger = logger;
        _probedBits = new PidBitmap(socketProbes.MapFd("tls_probed_pid_bits"));
        _libsslBits = new PidBitmap(socketProbes.MapFd("libssl_pid_bits"));
        BpfObject? withLinks = null;
        if (Environment.GetEnvironmentVariable(PerfUprobesVariable) == "1")
        {
            TlsLog.PerfUprobes(logger, $"{PerfUprobesVariable}=1");
        }
        else
        {
            // Loaded for uprobe_multi links, then asked whether this kernel makes them and filters
            // them by process; else loaded again for perf-event uprobes.
            try
            {
                withLinks = Load(socketProbes, settings, multiLinks: true);
                if (!UprobeMultiLink.Works(withLinks.ProgramFd(ExitProgram), out string reason))
                {
                    TlsLog.PerfUprobes(logger, reason);
                    withLinks.Dispose();
                    withLinks = null;
                }
            }
            catch (BeylaException ex)
            {
                TlsLog.PerfUprobes(logger, ex.Message);
            }
        }
        _multiLinks = withLinks is not null;
        _object = withLinks ?? Load(socketProbes, settings, multiLinks: false);
        _worker = new Thread(Work) { IsBackground = true, Name = "beyla-tls" };
        _worker.Start();
    }

    /// <summary>BEYLA_PERF_UPROBES=1: perf-event uprobes even where uprobe_multi links exist (to compare them).</summary>
    internal const string PerfUprobesVariable = "BEYLA_PERF_UPROBES";

    /// <summary>Whether probes are uprobe_multi links (else perf-event uprobes).</summary>
    internal bool UsesUprobeMultiLinks => _multiLinks;

    /// <summary>The links (or perf events) that hold process <paramref name="pid"/>'s own probes, now (for tests).</summary>
    internal int LinkCount(int pid)
    {
        lock (_lock)
            return _attached.Where(a => a.Key.Pid == pid).Sum(a => a.Value.Count);
    }

    /// <summary>Where <paramref name="file"/>'s probes go, by function, once a process's probes were attached to it (for tests).</summary>
    internal Dictionary<string, ulong> ProbeOffsetsOf(string file)
    {
        lock (_lock)
            return _offsets.TryGetValue(file, out Dictionary<string, ulong>? offsets) ? new(offsets, StringComparer.Ordinal) : [];
    }

    /// <summary>The files whose OpenSSL functions hold probes for process <paramref name="pid"/> alone, now (for tests).</summary>
    internal string[] ProbedFiles(int pid)
    {
        lock (_lock)
            return [.. _attached.Keys.Where(k => k.Pid == pid).Select(k => k.File)];
    }

    private static BpfObject Load(BpfObject socketProbes, in ProbeSettings settings, bool multiLinks)
    {
        BpfObject tls = BpfObject.Open("tls");
        try
        {
            tls.SetReadOnlyData(settings);
            foreach (string map in s_sharedMaps)
                tls.ShareMap(map, socketProbes.MapFd(map));
            if (multiLinks)
            {
                foreach (string program in s_probedFunctions.Select(e => e.Program).Distinct())
                    tls.LeaveOut(program);
                tls.UseUprobeMultiLinks(EntryProgram);
                tls.UseUprobeMultiLinks(ExitProgram);
            }
            else
            {
                tls.LeaveOut(EntryProgram); // its attach cookie needs Linux 5.15
            }
            tls.Load();
            return tls;
        }
        catch
        {
            tls.Dispose();
            throw;
        }
    }

    /// <summary>Runs <see cref="Sync"/> on the probe set's own thread, after what is already queued.</summary>
    public void SyncLater(int[] pids) => Post(() => Sync(pids));

    /// <summary>Runs <see cref="Refresh"/> on the probe set's own thread, after what is already queued.</summary>
    public void RefreshLater(int pid) => Post(() => Refresh(pid));

    /// <summary>Runs <see cref="AttachFile"/> on the probe set's own thread, after what is already queued.</summary>
    public void AttachFileLater(int pid, string path) => Post(() => AttachFile(pid, path));

    /// <summary>
    /// A traced process (command name <paramref name="command"/>) began a TLS handshake that no
    /// SSL call of its came before (the kernel reports that once per process and program, with
    /// what it knew then: <paramref name="known"/>, ProcessNotice.TlsUnprobed*). Logged on the
    /// probe set's own thread, after any attach already queued for the process:
    /// <list type="bullet">
    /// <item>the process has no OpenSSL the probes found (no libssl mapped, none linked into its
    /// executable): its TLS is another library's (118);</item>
    /// <item>else its probes were in place: the handshake is one it relays, or went through OpenSSL
    /// functions the probes do not cover (119, debug);</item>
    /// <item>else they came after it began (117).</item>
    /// </list>
    /// Each program's first 117 or 118 is logged at warning or information, later ones at debug: a
    /// client started again and again would otherwise log every run.
    /// </summary>
    public void ExplainUnprobedHandshakeLater(int pid, string command, uint known) => Post(() =>
    {
        bool first;
        int kind;
        lock (_lock)
        {
            bool openSsl = (known & ProcessNotice.TlsUnprobedMapsLibssl) != 0 ||
                           _attached.Keys.Any(k => k.Pid == pid && !s_systemLibraryFiles.Contains(k.File)); // its own copy, or its executable
            kind = !openSsl ? 118 : (known & ProcessNotice.TlsUnprobedProbesInPlace) != 0 ? 119 : 117;
            first = _unprobedHandshakesLogged.Add((command, kind));
        }
        switch (kind)
        {
            case 117:
                TlsLog.HandshakeBeforeProbes(_logger, first ? LogLevel.Warning : LogLevel.Debug, pid, command);
                break;
            case 118:
                TlsLog.HandshakeWithoutOpenSsl(_logger, first ? LogLevel.Information : LogLevel.Debug, pid, command);
                break;
            default:
                TlsLog.HandshakeNotThroughProbes(_logger, pid, command);
                break;
        }
    });

    /// <summary>Completes once the work queued on the probe set's thread so far is done (for tests).</summary>
    internal Task QueuedWorkDone()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(done.SetResult);
        return done.Task;
    }

    private void Post(Action work)
    {
        try
        {
            _work.Add(work);
        }
        catch (InvalidOperationException)
        {
            // disposing: nothing more to attach
        }
    }

    /// <summary>
    /// The probe set's thread: attaches as asked, and releases the probes of processes that are
    /// gone one at a time when there is nothing to attach (an attach may be urgent: a process
    /// about to use libssl; a release never is). Ends when disposed and everything is released.
    /// </summary>
    private void Work()
    {
        while (true)
        {
            bool releasing;
            lock (_lock)
                releasing = _toRelease.Count > 0;
            if (_work.TryTake(out Action? work, releasing ? 0 : Timeout.Infinite))
            {
                try
                {
                    work();
                }
                catch (Exception ex) when (ex is BeylaException or IOException or UnauthorizedAccessException)
                {
                    TlsLog.WorkFailed(_logger, ex.Message);
                }
                continue;
            }
            if (!releasing)
                return; // disposed, and nothing left to do
            SafeHandle link;
            lock (_lock)
                link = _toRelease.Dequeue();
            link.Dispose();
        }
    }

    /// <summary>The processes that have probes of their own (not those attached for every process), now.</summary>
    internal int[] ProbedProcessIds
    {
        get
        {
            lock (_lock)
                return [.. _attached.Keys.Where(k => k.Pid != -1).Select(k => k.Pid).Distinct()];
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
    /// for the probes), and releases what processes no longer traced had. The memory map of a
    /// process is read when it is new to the traced set (or its last reading failed, or an attach
    /// was put off), and otherwise every <see cref="FullCheckEvery"/> syncs: a libssl a traced
    /// process opens later is reported by the kernel (<see cref="AttachFile"/>), and so is a
    /// program it starts (<see cref="Refresh"/>).
    /// </summary>
    public void Sync(IReadOnlyCollection<int> pids)
    {
        lock (_lock)
        {
            Syncs++;
            bool full = ++_syncsSinceFullCheck >= FullCheckEvery;
            if (full)
                _syncsSinceFullCheck = 0;
            var traced = new HashSet<int>(pids);
            var synced = new HashSet<int>(traced); // less those to look at again, as if new
            var looked = new HashSet<int>();
            var wanted = new HashSet<(int, string)>();
            foreach (int pid in traced)
            {
                if (!full && _synced.Contains(pid))
                    continue;
                looked.Add(pid);
                MapsRead++;
                HashSet<string> candidates = OpenSslCandidates(pid, out bool mapsRead);
                bool done = mapsRead;
                foreach (string file in candidates)
                {
                    if (_forEveryProcess.Contains(file))
                        continue;
                    wanted.Add((pid, file));
                    done &= AttachIfNew(pid, file);
                }
                if (!done)
                    synced.Remove(pid);
            }
            // Released: the probes of processes no longer traced, and of files a process looked
            // at now no longer maps.
            foreach ((int Pid, string File) key in _attached.Keys
                .Where(k => k.Pid != -1 && (!traced.Contains(k.Pid) || (looked.Contains(k.Pid) && !wanted.Contains(k)))).ToArray())
            {
                // Released by the probe set's thread when it has nothing more urgent to do.
                // in reverse: the entries before the returns, so that no call is noted without its return
                foreach (SafeHandle link in Enumerable.Reverse(_attached[key]))
                    _toRelease.Enqueue(link);
                _attached.Remove(key);
                if (!_attached.Keys.Any(k => k.Pid == key.Pid))
                    _probedBits.Clear(key.Pid);
                TlsLog.Released(_logger, key.File, key.Pid);
            }
            _synced = synced;
        }
    }

    private int MapsRead { get; set; } // under _lock
    private int Syncs { get; set; } // under _lock

    /// <summary>Syncs so far, and the memory maps they read (for tests).</summary>
    internal (int Syncs, int MapsRead) SyncCounts
    {
        get
        {
            lock (_lock)
                return (Syncs, MapsRead);
        }
    }

    /// <summary>A traced process started a program or opened a libssl: attach to what it maps now.</summary>
    public void Refresh(int pid)
    {
        lock (_lock)
        {
            foreach (string file in OpenSslCandidates(pid, out _))
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

    /// <summary>A traced process is mapping a libssl named <paramref name="name"/>: attach to it for that process before it is used.</summary>
    public void AttachMappedLater(int pid, string name) => Post(() => AttachMapped(pid, name));

    /// <summary>
    /// A traced process is mapping a libssl named <paramref name="name"/>: attach to what its
    /// memory map holds. The kernel reports the mapping as it is made, so the map may not show it
    /// for a few microseconds: it is read again, waiting twice as long each time (about 30 ms in
    /// all), until it does; else the next full check of the process's map attaches it.
    /// </summary>
    public void AttachMapped(int pid, string name)
    {
        for (int attempt = 0; attempt < MappedAttempts; attempt++)
        {
            if (attempt > 0)
                Thread.Sleep(1 << (attempt - 1));
            lock (_lock)
            {
                var mapped = new HashSet<string>(StringComparer.Ordinal);
                HashSet<string> files = OpenSslCandidates(pid, out bool mapsRead, mapped);
                foreach (string file in files)
                    AttachIfNew(pid, file);
                if (!mapsRead || mapped.Any(f => Path.GetFileName(f).Replace(" (deleted)", "", StringComparison.Ordinal) == name))
                    return;
            }
        }
        TlsLog.MappedNotSeen(_logger, pid, name);
    }

    private const int MappedAttempts = 6;

    /// <summary>
    /// Attaches to <paramref name="file"/> for <paramref name="pid"/> unless that is done, covered
    /// for every process, or known to be useless; or while the probes of processes that have
    /// gone wait to be released beyond <see cref="MaxPendingReleases"/>: processes that come and
    /// go faster than their probes can be released would otherwise pile up probes without bound.
    /// </summary>
    private bool AttachIfNew(int pid, string file)
    {
        if (_forEveryProcess.Contains(file) || _attached.ContainsKey((pid, file)) || _filesWithoutOpenSsl.Contains(file))
            return true;
        if (_toRelease.Count > MaxPendingReleases)
        {
            if (!_backlogReported)
                TlsLog.ReleaseBacklog(_logger, file, pid, _toRelease.Count);
            _backlogReported = true;
            return false;
        }
        _backlogReported = false;
        Attach(pid, file);
        return true;
    }

    private void Attach(int pid, string file)
    {
        var links = new List<SafeHandle>();
        try
        {
            if (!_offsets.TryGetValue(file, out Dictionary<string, ulong>? offsets))
            {
                offsets = ProbeOffsets(file);
                _offsets[file] = offsets;
            }
            var found = s_probedFunctions.Where(e => offsets.ContainsKey(e.Function)).ToArray();
            var returning = found.Where(e => ReturnProbed(e.Cookie)).ToArray();
            if (_multiLinks && returning.Length > 0)
            {
                // the returns first: an entry noted with no return probe yet would wait in tls_calls
                if (_object.AttachUprobeMulti(ExitProgram, pid, file, returnProbe: true,
                    [.. returning.Select(e => offsets[e.Function])], [.. returning.Select(e => e.Cookie)]) is { } exits)
                {
                    links.Add(exits);
                    if (_object.AttachUprobeMulti(EntryProgram, pid, file, returnProbe: false,
                        [.. found.Select(e => offsets[e.Function])], [.. found.Select(e => e.Cookie)]) is { } entries)
                        links.Add(entries);
                }
            }
            else if (returning.Length > 0)
            {
                foreach ((string function, string program, ulong cookie) in found)
                {
                    ulong offset = offsets[function];
                    if (ReturnProbed(cookie) && _object.AttachUprobe(ExitProgram, pid, file, function, returnProbe: true, offset) is { } exit)
                        links.Add(exit);
                    if (_object.AttachUprobe(program, pid, file, function, returnProbe: false, offset) is { } entry)
                        links.Add(entry);
                }
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
        if (pid != -1)
            _probedBits.Set(pid);
        TlsLog.Attached(_logger, file, pid, links.Count);
    }

    /// <summary>
    /// Where to probe <paramref name="file"/>, by function: the public functions, or where their
    /// entries the kernel would single-step, the function a pair of them both call first, if it
    /// begins with a push (s_internalEntries). It must be the pair's own: one that the other
    /// direction's pair, or SSL_peek and SSL_peek_ex, call first too is a helper they share (where
    /// the internal functions were inlined), and the public functions are probed then. And the
    /// first caller's call must pass a stack address, the byte count's, where the entry says.
    /// </summary>
    private Dictionary<string, ulong> ProbeOffsets(string file)
    {
        Dictionary<string, ulong> offsets = ElfSymbols.FindFunctions(file, s_functions);
        ulong? FirstCallee(string[] pair) =>
            pair.All(offsets.ContainsKey) ? ElfSymbols.SharedFirstCallee(file, [.. pair.Select(f => offsets[f])]) : null;
        ulong?[] callees = [.. s_internalEntries.Select(e => FirstCallee(e.Callers))];
        ulong? peek = FirstCallee(s_peek);
        for (int i = 0; i < s_internalEntries.Length; i++)
        {
            (string[] callers, string[] replaced, string function, _, ulong cookie, CountRegister register) = s_internalEntries[i];
            bool OtherDirection(int j) => (s_internalEntries[j].Cookie & 0xff) != (cookie & 0xff);
            if (callees[i] is not ulong at || callees.Where((c, j) => OtherDirection(j) && c == at).Any() || peek == at ||
                !replaced.All(offsets.ContainsKey) || replaced.All(f => ElfSymbols.StartsWithPush(file, offsets[f])) ||
                !ElfSymbols.PassesStackAddressBeforeFirstCall(file, offsets[callers[0]], register))
                continue;
            foreach (string f in replaced)
                offsets.Remove(f);
            offsets[function] = at;
            TlsLog.InternalEntry(_logger, file, string.Join(" and ", callers), function, at);
        }
        // OpenSSL 3.3 on: SSL_write_ex only jumps to SSL_write_ex2, whose calls the flags entry
        // sees; its own first instruction (a mov) would cost a single-step trap at every call
        if (offsets.ContainsKey(WriteInternalWithFlags) && offsets.TryGetValue(WriteEx, out ulong ex) &&
            offsets.TryGetValue(WriteWithFlags, out ulong ex2) && ElfSymbols.TailJumpsTo(file, ex, WriteWithFlags, ex2))
        {
            offsets.Remove(WriteEx);
            TlsLog.TailCall(_logger, file, WriteEx, WriteWithFlags);
        }
        offsets.Remove(WriteWithFlags);
        foreach (string f in s_peek)
            offsets.Remove(f);
        return offsets;
    }

    /// <summary>
    /// The system's libssl (attached for the process even before it loads it: the probes cost
    /// nothing until it does, and a process traced before it loads libssl has them in time), the libssl
    /// files it maps, and its executable (OpenSSL may be linked in). <paramref name="mapsRead"/> is
    /// false when its memory map could not be read (then only the system's libssl is named).
    /// <paramref name="mapped"/>, when given, gets the libssl files the map holds. A process that maps
    /// one gets its bit in <c>libssl_pid_bits</c>, as the kernel sets it for libraries mapped while it
    /// traces the process.
    /// </summary>
    private HashSet<string> OpenSslCandidates(int pid, out bool mapsRead, HashSet<string>? mapped = null)
    {
        var files = new HashSet<string>(StringComparer.Ordinal);
        mapsRead = false;
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
                {
                    files.Add(path);
                    mapped?.Add(path);
                    _libsslBits.Set(pid);
                }
            }
            string? exe = new FileInfo($"/proc/{pid}/exe").LinkTarget;
            if (exe is not null && !exe.EndsWith(" (deleted)", StringComparison.Ordinal))
                files.Add(exe);
            mapsRead = true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // the process is gone
        }
        return files;
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _worker.Join(); // it releases what was queued for release before it ends
        _work.Dispose();
        lock (_lock)
        {
            foreach (List<SafeHandle> links in _attached.Values)
            {
                foreach (SafeHandle link in Enumerable.Reverse(links))
                    link.Dispose();
            }
            _attached.Clear();
        }
        _object.Dispose();
        _probedBits.Dispose();
        _libsslBits.Dispose();
    }
}
