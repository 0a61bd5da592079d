using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Beyla.Interop;
using Microsoft.Extensions.Logging;

namespace Beyla.Implementation;

/// <summary>
/// The socket probe set (bpf/socket.bpf.c): HTTP/1.x over TCP from the socket layer's
/// tracepoints (or, on kernels without them, the syscall tracepoints), for any language. Built attached; <see cref="RunAsync"/> moves ring-buffer records into the
/// pipeline and keeps the kernel's list of traced processes current.
/// </summary>
internal sealed class SocketProbeSet : IEventSource
{
    // The kernel wakes the reader each time another WakeupBytes are waiting; otherwise records
    // wait at most PollTimeoutMs. Batching wakeups is what keeps the kernel cost per span low: a
    // wakeup is an interrupt, and in a virtual machine an exit to the hypervisor. After
    // IdlePollsBeforeSleep polls that found nothing, the reader tells the kernel it sleeps
    // (reader_asleep): the next record wakes it at once, and it polls only for its own timers
    // (rescans, sweeps), at most every IdleTimeoutMs.
    private const int MaxWakeupBytes = 256 * 1024;
    private const int PollTimeoutMs = 20;
    private const int IdlePollsBeforeSleep = 5;
    private const int IdleTimeoutMs = 1000;
    internal const int MaxRecordsPerDrain = 4096;

    private readonly BpfObject _object;
    private readonly TlsProbeSet? _tls;
    private readonly EventRings _rings;
    private readonly ProcessDiscovery? _discovery;
    private readonly TimeSpan _rescanInterval;
    private readonly ILogger _logger;
    private readonly int _pidsFd;
    private readonly PidBitmap _pidBits = null!;
    private readonly int _statsFd;
    private readonly int _readerAsleepFd;
    private readonly int _cpus;
    private readonly HashSet<int> _tracedPids = [];
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly EventRings.RecordInterceptor _intercept;
    private long _lost;
    private bool _running;
    private int _disposed;
    private readonly Lock _statsGate = new(); // no stats read once the object is being disposed

    public SocketProbeSet(EventSourceContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _logger = context.LoggerFactory.CreateLogger("Beyla.Bpf");
        _rescanInterval = context.Options.ProcessRescanInterval;
        KernelRequirements.Check();
        var started = Stopwatch.StartNew();
        _object = BpfObject.Open("socket");
        try
        {
            bool all = context.Processes.IsAll;
            _cpus = LibBpf.NumPossibleCpus();
            int ringSlots = Math.Max(_cpus, 1); // event_rings: one slot per possible CPU
            List<int> onlineCpus = EventRings.OnlineCpus(_cpus);
            int ringBytes = EventRings.RingBytesFor(context.Options.RingBufferBytes, onlineCpus.Count);
            var settings = new ProbeSettings
            {
                TraceAllProcesses = all ? 1u : 0u,
                WakeupBytes = (uint)Math.Min(ringBytes / 8, MaxWakeupBytes),
                TlsEnabled = context.Options.TraceTls ? 1u : 0u,
            };
            _object.SetReadOnlyData(settings);
            _object.SetMaxEntries("event_rings", ringSlots);
            _rings = EventRings.Create(ringBytes, onlineCpus);
            _object.SetInnerMapTemplate("event_rings", _rings.TemplateFd);
            _object.SetMaxEntries("connections", context.Options.MaxTrackedConnections);
            _object.SetMaxEntries("socket_conns", (int)Math.Min(2L * context.Options.MaxTrackedConnections, int.MaxValue));
            bool socketHooks = ChooseDataHooks();
            if (!context.Options.TraceTls)
            {
                // a libssl being loaded matters to the TLS probes only
                _object.LeaveOut("map_file");
                _object.LeaveOut("enter_openat");
            }
            LeaveOutMissingIoUringHooks();
            _object.Load();
            _rings.Install(_object.MapFd("event_rings"), ringSlots);
            _pidsFd = _object.MapFd("traced_pids");
            _pidBits = new PidBitmap(_object.MapFd("traced_pid_bits"));
            // with the socket hooks every socket's end clears its socket_conns entry (tcp_destroy)
            _sweeper = new DeadProcessSweeper(_object, sweepSockets: !socketHooks);
            _statsFd = _object.MapFd("stats");
            _readerAsleepFd = _object.MapFd("reader_asleep");
            if (context.Options.TraceTls)
            {
                _tls = new TlsProbeSet(_object, settings, _logger);
                _tls.AttachForEveryProcess(systemLibraries: all, context.Processes.ExecutableNames);
            }
            if (!all)
            {
                _discovery = new ProcessDiscovery(context.Processes);
                SelectCommands(_object.MapFd("traced_comms"), context.Processes.ExecutableNames);
                SyncTracedProcesses();
            }
            _intercept = OnNotice;
            _object.AttachAll();
        }
        catch
        {
            _rings?.Dispose();
            _tls?.Dispose();
            _pidBits?.Dispose();
            _object.Dispose();
            throw;
        }
        SocketLog.Attached(_logger, _object.AttachedPrograms, started.Elapsed.TotalMilliseconds, _tracedPids.Count);
    }

    /// <summary>
    /// Reads and writes are hooked where the socket layer moves their bytes (the tracepoints
    /// sock:sock_recv_length, sock:sock_send_length and tcp:tcp_sendmsg_locked, raw) when this
    /// kernel has them (6.18 does; sock_*_length came in 6.3, tcp_sendmsg_locked later), and
    /// closes, libssl loads and fd reuse are seen from the socket's and the memory map's own
    /// tracepoints, so that no syscall tracepoint is attached: while one is, every syscall of every
    /// process on the machine takes the kernel's slow path. Otherwise the syscalls' entries and
    /// exits are hooked. The socket hooks are passed by socket I/O only (a traced process's file
    /// and pipe I/O runs no program), build no perf record, and see the socket itself, so a reused
    /// fd is told apart (benchmarks/README.md). <c>BEYLA_SYSCALL_HOOKS=1</c> takes the syscall
    /// tracepoints whatever the kernel has.
    /// </summary>
    /// <returns>Whether the socket hooks were chosen.</returns>
    private bool ChooseDataHooks()
    {
        bool socketHooks = Environment.GetEnvironmentVariable(SyscallHooksVariable) != "1" && KernelHasSocketHooks;
        foreach (string program in socketHooks ? SyscallHookPrograms : SocketHookPrograms)
            _object.LeaveOut(program);
        SocketLog.DataHooks(_logger, socketHooks ? "socket tracepoints" : "syscall tracepoints");
        return socketHooks;
    }

    /// <summary>The environment variable that, set to 1, takes the syscall tracepoints whatever the kernel has.</summary>
    internal const string SyscallHooksVariable = "BEYLA_SYSCALL_HOOKS";

    /// <summary>Whether this kernel has the tracepoints the socket hooks need.</summary>
    internal static bool KernelHasSocketHooks =>
        KernelRequirements.HasTracepoint("sock", "sock_recv_length") &&
        KernelRequirements.HasTracepoint("sock", "sock_send_length") &&
        KernelRequirements.HasTracepoint("tcp", "tcp_sendmsg_locked") &&
        KernelRequirements.HasTracepoint("sock", "inet_sock_set_state") &&
        KernelRequirements.HasTracepoint("tcp", "tcp_destroy_sock") &&
        KernelRequirements.HasTracepoint("mmap", "vm_unmapped_area");

    /// <summary>The programs of the socket hooks (socket.bpf.c), left out with the syscall hooks.</summary>
    internal static readonly string[] SocketHookPrograms = ["sock_recv", "sock_send", "tcp_send_enter", "tcp_state", "tcp_destroy", "map_file"];

    /// <summary>The programs of the syscall hooks, left out with the socket hooks.</summary>
    internal static readonly string[] SyscallHookPrograms =
    [
        "exit_read", "exit_recvfrom", "exit_readv", "exit_recvmsg",
        "exit_write", "exit_sendto", "exit_writev", "exit_sendmsg", "exit_sendfile",
        "enter_write", "enter_sendto", "enter_writev", "enter_sendmsg", "enter_sendfile",
        "enter_close", "exit_accept", "exit_accept4", "enter_connect", "enter_openat",
    ];

    /// <summary>
    /// The io_uring hook is attached to the tracepoint this kernel has: io_uring_submit_req
    /// (Linux 6.5 on), or io_uring_submit_sqe before. With neither (io_uring not built in), what
    /// a program moves through io_uring cannot even be noticed, and the log says so.
    /// </summary>
    private void LeaveOutMissingIoUringHooks()
    {
        bool submitReq = KernelRequirements.HasTracepoint("io_uring", "io_uring_submit_req");
        bool submitSqe = !submitReq && KernelRequirements.HasTracepoint("io_uring", "io_uring_submit_sqe");
        if (!submitReq)
            _object.LeaveOut("on_uring_submit");
        if (!submitSqe)
            _object.LeaveOut("on_uring_submit_sqe");
        if (!submitReq && !submitSqe)
            SocketLog.IoUringNotObservable(_logger);
    }

    public string Name => "socket";

    /// <summary>The processes the hooks trace now: the set bits of <c>traced_pid_bits</c> (for tests).</summary>
    internal List<int> TracedPidBits => _pidBits.SetPids();

    /// <summary>The processes user space has put in the kernel's traced set, now (a copy; for tests).</summary>
    internal int[] TracedProcessIds
    {
        get
        {
            lock (_tracedPids)
                return [.. _tracedPids];
        }
    }

    /// <summary>The processes that have TLS probes of their own attached, now (a copy; for tests).</summary>
    internal int[] TlsProbedProcessIds => _tls?.ProbedProcessIds ?? [];

    /// <summary>The ring buffers the kernel writes to (one per online CPU; for tests).</summary>
    internal EventRings Rings => _rings;

    /// <summary>The TLS probe set, when TLS is traced (for tests).</summary>
    internal TlsProbeSet? Tls => _tls;

    public long LostEvents
    {
        get
        {
            if (_running)
            {
                lock (_statsGate)
                {
                    if (_disposed == 0)
                        RefreshLost();
                }
            }
            return Interlocked.Read(ref _lost);
        }
    }

    private static readonly TimeSpan FinalDrainTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(2);
    private readonly DeadProcessSweeper _sweeper = null!;

    public Task RunAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        _running = true;
        var thread = new Thread(() => Run(output, cancellationToken))
        {
            IsBackground = true,
            Name = "beyla-ringbuf",
        };
        thread.Start();
        return _stopped.Task;
    }

    private void Run(PipeWriter output, CancellationToken cancellationToken)
    {
        try
        {
            using CancellationTokenRegistration interrupt = cancellationToken.Register(_rings.Interrupt);
            long nextRescan = Stopwatch.GetTimestamp() + (long)(_rescanInterval.TotalSeconds * Stopwatch.Frequency);
            long nextSweep = Stopwatch.GetTimestamp() + (long)(SweepInterval.TotalSeconds * Stopwatch.Frequency);
            int idlePolls = 0;
            bool asleep = false;
            while (!cancellationToken.IsCancellationRequested)
            {
                if (Stopwatch.GetTimestamp() >= nextSweep)
                {
                    int removed = _sweeper.Sweep();
                    if (removed > 0)
                        SocketLog.SweptDeadProcesses(_logger, removed);
                    nextSweep = Stopwatch.GetTimestamp() + (long)(SweepInterval.TotalSeconds * Stopwatch.Frequency);
                }
                int timeoutMs = PollTimeoutMs;
                if (idlePolls >= IdlePollsBeforeSleep)
                {
                    asleep = asleep || SetReaderAsleep();
                    if (asleep)
                        timeoutMs = MillisecondsUntil(Math.Min(nextSweep, _discovery is null ? long.MaxValue : nextRescan));
                }
                long waited = Stopwatch.GetTimestamp();
                if (_rings.Wait(timeoutMs))
                {
                    // The record that woke a sleeping reader cleared reader_asleep. (One that
                    // came while the reader was going to sleep may not have: then the reader
                    // finds it when its timeout ends, and the next record clears the flag.)
                    if (asleep)
                    {
                        bool early = Stopwatch.GetElapsedTime(waited).TotalMilliseconds < timeoutMs;
                        Interlocked.Increment(ref early && !ReaderAsleepInKernel() ? ref _kernelWakes : ref _timedWakes);
                    }
                    idlePolls = 0;
                    asleep = false;
                    if (!Pump(output, cancellationToken))
                        break;
                }
                else
                {
                    idlePolls++;
                }
                if (_discovery is not null && Stopwatch.GetTimestamp() >= nextRescan)
                {
                    SyncTracedProcesses(later: true);
                    nextRescan = Stopwatch.GetTimestamp() + (long)(_rescanInterval.TotalSeconds * Stopwatch.Frequency);
                }
            }
            // Hand over what the kernel finished before the stop, unless the pipe stays full
            // (a consumer that does not return): then stop anyway rather than hang the dispose.
            using var last = new CancellationTokenSource(FinalDrainTimeout);
            Pump(output, last.Token);
        }
        catch (OperationCanceledException)
        {
            // Stopped while the pipe was full: what is still in the ring is not handed over.
        }
        catch (Exception ex)
        {
            _stopped.TrySetException(ex);
            return;
        }
        (long ringFull, long unmatched, long tlsWithoutSocket, long queueFull, long processExited) = RefreshLost();
        if (ringFull + unmatched + tlsWithoutSocket + queueFull + processExited > 0)
            SocketLog.LostByReason(_logger, ringFull, unmatched, tlsWithoutSocket, queueFull, processExited);
        _stopped.TrySetResult();
    }

    /// <summary>Tells the kernel that the reader sleeps: its next record wakes it. False when that failed (then the reader keeps polling).</summary>
    private unsafe bool SetReaderAsleep()
    {
        uint key = 0;
        uint one = 1;
        if (LibBpf.MapUpdateElem(_readerAsleepFd, &key, &one, 0) != 0)
            return false;
        Interlocked.Increment(ref _readerSleeps);
        return true;
    }

    private int _readerSleeps;
    private int _kernelWakes;
    private int _timedWakes;

    private unsafe bool ReaderAsleepInKernel()
    {
        uint key = 0;
        uint value = 0;
        return LibBpf.MapLookupElem(_readerAsleepFd, &key, &value) == 0 && value != 0;
    }

    /// <summary>
    /// How many times the reader went to sleep for want of records, was woken before its timeout
    /// by a record that cleared <c>reader_asleep</c>, or found records otherwise (for tests).
    /// </summary>
    internal (int Sleeps, int KernelWakes, int TimedWakes) ReaderSleep =>
        (Volatile.Read(ref _readerSleeps), Volatile.Read(ref _kernelWakes), Volatile.Read(ref _timedWakes));

    private static int MillisecondsUntil(long timestamp)
    {
        long ms = (timestamp - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
        return (int)Math.Clamp(ms, PollTimeoutMs, IdleTimeoutMs);
    }

    /// <summary>Moves records into the pipe; false when the reader has gone. Waits for room in the pipe until cancelled.</summary>
    private bool Pump(PipeWriter output, CancellationToken cancellationToken)
    {
        while (_rings.Drain(output, MaxRecordsPerDrain, _intercept) > 0)
        {
            ValueTask<FlushResult> flush = output.FlushAsync(cancellationToken);
            FlushResult result = flush.IsCompletedSuccessfully ? flush.Result : flush.AsTask().GetAwaiter().GetResult();
            if (result.IsCompleted)
                return false;
        }
        return true;
    }

    /// <summary>
    /// Process notices from the kernel. A selected program started, or a traced process opened a
    /// libssl: the TLS probes for that process are attached now rather than at the next rescan. A
    /// traced process moves socket data through io_uring, which no hook sees, began a TLS
    /// handshake that its TLS probes did not see, or began an HTTP/2 connection: that is logged.
    /// </summary>
    private bool OnNotice(ReadOnlySpan<byte> record)
    {
        if (record.Length < ProcessNotice.Size || BinaryPrimitives.ReadUInt32LittleEndian(record) != ProcessNotice.Type)
            return false;
        int pid = (int)BinaryPrimitives.ReadUInt32LittleEndian(record[ProcessNotice.PidOffset..]);
        uint reason = BinaryPrimitives.ReadUInt32LittleEndian(record[ProcessNotice.ReasonOffset..]);
        uint detail = BinaryPrimitives.ReadUInt32LittleEndian(record[ProcessNotice.DetailOffset..]);
        ReadOnlySpan<byte> path = record.Slice(ProcessNotice.PathOffset, ProcessNotice.PathCapacity);
        int end = path.IndexOf((byte)0);
        string text = System.Text.Encoding.UTF8.GetString(end < 0 ? path : path[..end]);
        switch (reason)
        {
            case ProcessNotice.IoUring:
                SocketLog.IoUringNotTraced(_logger, pid, text, ProcessNotice.IoUringOperationName(detail));
                break;
            case ProcessNotice.LibsslOpened:
                _tls?.AttachFileLater(pid, text);
                break;
            case ProcessNotice.LibsslMapped:
                _tls?.AttachMappedLater(pid, text);
                break;
            case ProcessNotice.TlsUnprobed:
                _tls?.ExplainUnprobedHandshakeLater(pid, text, detail);
                break;
            case ProcessNotice.Http2:
                SocketLog.Http2NotTraced(_logger, pid, text, (detail & ProcessNotice.Http2Read) != 0 ? "server" : "client",
                    (detail & ProcessNotice.Http2OverTls) != 0 ? " over TLS" : " in cleartext");
                break;
            default:
                lock (_tracedPids)
                    _tracedPids.Add(pid);
                _tls?.RefreshLater(pid);
                break;
        }
        return true;
    }

    /// <summary>Updates the lost count; returns its parts, by reason.</summary>
    private (long RingFull, long Unmatched, long TlsWithoutSocket, long QueueFull, long ProcessExited) RefreshLost()
    {
        // Finished requests dropped because the ring was full, and requests known to have
        // gone by unseen (a response turned up with no request waiting for it).
        // TLS plaintext whose socket was never learned, requests queued beyond what a
        // connection holds, and requests in flight in a process that died are not reported either.
        long ringFull = ReadStat(KernelStat.EventsLostRingBuffer);
        long unmatched = ReadStat(KernelStat.ResponsesUnmatched);
        long tlsWithoutSocket = ReadStat(KernelStat.TlsWithoutSocket);
        long queueFull = ReadStat(KernelStat.RequestsDropped);
        long processExited = _sweeper.RequestsLost;
        Interlocked.Exchange(ref _lost, ringFull + unmatched + tlsWithoutSocket + queueFull + processExited);
        return (ringFull, unmatched, tlsWithoutSocket, queueFull, processExited);
    }

    /// <summary>A kernel counter, summed over the CPUs.</summary>
    internal unsafe long ReadStat(KernelStat stat)
    {
        uint key = (uint)stat;
        ulong* values = stackalloc ulong[Math.Max(_cpus, 1)];
        if (LibBpf.MapLookupElem(_statsFd, &key, values) != 0)
            return 0;
        long total = 0;
        for (int i = 0; i < _cpus; i++)
            total += (long)values[i];
        return total;
    }

    /// <summary>Lets the kernel start tracing a selected executable at its exec, before the next rescan.</summary>
    private static unsafe void SelectCommands(int commsFd, IReadOnlyCollection<string> names)
    {
        byte* key = stackalloc byte[16];
        foreach (string name in names)
        {
            // /proc/PID/comm holds at most 15 bytes of the name.
            new Span<byte>(key, 16).Clear();
            int length = System.Text.Encoding.UTF8.GetBytes(name.AsSpan(0, Math.Min(name.Length, 15)), new Span<byte>(key, 15));
            byte one = 1;
            if (length > 0 && LibBpf.MapUpdateElem(commsFd, key, &one, 0) != 0)
                throw BpfException.FromErrno($"select the command name {name}", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>
    /// Brings the kernel's traced set, and the TLS probes, up to date with the processes
    /// selected now. The TLS probes are brought up to date at once when building (the tracer is
    /// ready when Build returns), later by the TLS probe set's own thread.
    /// </summary>
    private unsafe void SyncTracedProcesses(bool later = false)
    {
        HashSet<int> wanted = _discovery!.Resolve();
        lock (_tracedPids)
        {
            byte one = 1;
            foreach (int pid in wanted)
            {
                // Written every time: the kernel forgets a pid when its process exits, and
                // a new process may have the same id by now.
                uint key = (uint)pid;
                _pidBits.Set(pid); // the bit first: the hooks go by it
                if (LibBpf.MapUpdateElem(_pidsFd, &key, &one, 0) != 0)
                {
                    if (!_tracedPids.Contains(pid))
                        _pidBits.Clear(pid);
                    SocketLog.PidMapFull(_logger, pid, LibC.ErrorText(Marshal.GetLastPInvokeError()));
                    continue;
                }
                if (_tracedPids.Add(pid))
                    SocketLog.Tracing(_logger, pid);
            }
            foreach (int pid in _tracedPids.Where(p => !wanted.Contains(p)).ToArray())
            {
                uint key = (uint)pid;
                LibBpf.MapDeleteElem(_pidsFd, &key);
                _pidBits.Clear(pid);
                _tracedPids.Remove(pid);
            }
            if (later)
                _tls?.SyncLater([.. _tracedPids]);
            else
                _tls?.Sync(_tracedPids);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_running)
            await _stopped.Task.ConfigureAwait(false);
        lock (_statsGate)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
                return;
        }
        _rings.Dispose();
        _tls?.Dispose();
        _pidBits.Dispose();
        _object.Dispose();
    }
}
