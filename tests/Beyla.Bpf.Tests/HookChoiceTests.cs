using Beyla.Implementation;
using System.IO.Pipes;
using Beyla.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Beyla.Bpf.Tests;

/// <summary>
/// Reads, writes and closes are hooked at the socket layer's tracepoints where the kernel has them,
/// with no syscall tracepoint at all, so a traced process's pipe and file I/O passes no data program;
/// the syscall tracepoints (older kernels, or BEYLA_SYSCALL_HOOKS=1) see every read and write. Spans are the same either way
/// (<see cref="SyscallPathTests"/> runs every syscall pair with both).
/// </summary>
public sealed class HookChoiceTests
{
    private const int DataHooksEvent = 107;
    private const int PipeWrites = 2000;

    [BpfFact]
    public async Task OnThisKernelNoSyscallTracepointIsHookedAndPipeWritesOfATracedProcessPassNoDataProgram()
    {
        Assert.True(HookChoice.KernelHasSocketTracepoints, "this kernel (6.18) has the socket layer's, TCP's and the memory map's tracepoints");
        (string hooks, Dictionary<string, long> runs) = await WriteToAPipeWhileTracedAsync(syscallHooks: false);
        Assert.Equal("socket tracepoints", hooks);
        Assert.All(SocketProbeSet.SyscallHookPrograms, p => Assert.DoesNotContain(p, runs.Keys));
        Assert.All(SocketProbeSet.SocketHookPrograms, p => Assert.Contains(p, runs.Keys));
        Assert.True(runs["sock_send"] < PipeWrites / 2, $"sock_send ran {runs["sock_send"]} times for {PipeWrites} pipe writes");
        Assert.True(runs["tcp_send_enter"] < PipeWrites / 2, $"tcp_send_enter ran {runs["tcp_send_enter"]} times for {PipeWrites} pipe writes");
    }

    [BpfFact]
    public async Task TheSyscallTracepointsSeeEveryWrite()
    {
        (string hooks, Dictionary<string, long> runs) = await WriteToAPipeWhileTracedAsync(syscallHooks: true);
        Assert.Equal("syscall tracepoints", hooks);
        Assert.All(SocketProbeSet.SocketHookPrograms, p => Assert.DoesNotContain(p, runs.Keys));
        Assert.All(SocketProbeSet.SyscallHookPrograms, p => Assert.Contains(p, runs.Keys));
        Assert.True(runs["exit_write"] >= PipeWrites, $"exit_write ran {runs["exit_write"]} times for {PipeWrites} pipe writes");
        Assert.True(runs["enter_write"] >= PipeWrites, $"enter_write ran {runs["enter_write"]} times for {PipeWrites} pipe writes");
    }

    [BpfTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WithoutTlsNoHookWatchesForLibsslLoads(bool syscallHooks)
    {
        (_, Dictionary<string, long> runs) = await WriteToAPipeWhileTracedAsync(syscallHooks, tls: false);
        Assert.DoesNotContain("map_file", runs.Keys);
        Assert.DoesNotContain("enter_openat", runs.Keys);
        Assert.Contains(syscallHooks ? "exit_write" : "sock_send", runs.Keys);
    }

    /// <summary>
    /// Traces this process, writes to a pipe PipeWrites times (a write syscall each), and returns the
    /// hooks the probe set said it took and how often each of its programs ran meanwhile.
    /// </summary>
    private static async Task<(string Hooks, Dictionary<string, long> Runs)> WriteToAPipeWhileTracedAsync(bool syscallHooks, bool tls = true)
    {
        HashSet<int> before = KernelObjects.ProgramIds();
        var logger = new RecordingLogger(LogLevel.Information);
        await using BeylaTracer tracer = HookChoice.Build(
            new BeylaBuilder()
                .TraceProcesses(p => p.Current())
                .WithHttpProbes()
                .Configure(o => o.TraceTls = tls)
                .WithLogging(new RecordingLoggerFactory(logger)),
            syscallHooks);
        LogEntry chosen = Assert.Single(logger.Entries, e => e.EventId.Id == DataHooksEvent);

        using (BpfStats.Enable())
        {
            Dictionary<string, long> start = RunCounts(before);
            // a pipe (a file would be written with pwrite, which neither hook set looks at);
            // 2,000 writes of 16 bytes fit in its buffer
            using (var pipe = new AnonymousPipeServerStream(PipeDirection.Out))
            using (var reader = new AnonymousPipeClientStream(PipeDirection.In, pipe.ClientSafePipeHandle))
            {
                byte[] line = "GET / HTTP/1.1\r\n"u8.ToArray(); // request-like bytes: still no connection
                for (int i = 0; i < PipeWrites; i++)
                    pipe.Write(line);
            }
            Dictionary<string, long> end = RunCounts(before);
            return ((string)chosen.Properties["Hooks"]!, end.ToDictionary(p => p.Key, p => p.Value - start.GetValueOrDefault(p.Key)));
        }
    }

    /// <summary>Run counts of the programs loaded since <paramref name="before"/>, by name.</summary>
    private static Dictionary<string, long> RunCounts(HashSet<int> before) =>
        KernelObjects.ProgramStats()
            .Where(p => !before.Contains(p.Key))
            .GroupBy(p => p.Value.Name)
            .ToDictionary(g => g.Key, g => g.Sum(p => p.Value.RunCount));
}
