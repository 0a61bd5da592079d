using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>
/// Which hooks the socket probe set puts on reads and writes: the socket layer's tracepoints
/// where the kernel has them, the syscall tracepoints otherwise or when BEYLA_SYSCALL_HOOKS=1
/// asks for them (the kernel tests run one at a time, so the variable is set for one Build());
/// and how the TLS probes are attached (BEYLA_PERF_UPROBES=1).
/// </summary>
internal static class HookChoice
{
    /// <summary>Builds <paramref name="builder"/>'s tracer with the syscall tracepoints when <paramref name="syscallHooks"/>, else with what the kernel offers.</summary>
    public static BeylaTracer Build(BeylaBuilder builder, bool syscallHooks) =>
        syscallHooks ? BuildWith(builder, SocketProbeSet.SyscallHooksVariable) : builder.Build();

    /// <summary>Builds <paramref name="builder"/>'s tracer with perf-event uprobes for TLS when <paramref name="perfUprobes"/>, else with what the kernel offers.</summary>
    public static BeylaTracer BuildTls(BeylaBuilder builder, bool perfUprobes) =>
        perfUprobes ? BuildWith(builder, TlsProbeSet.PerfUprobesVariable) : builder.Build();

    private static BeylaTracer BuildWith(BeylaBuilder builder, string variable)
    {
        string? was = Environment.GetEnvironmentVariable(variable);
        Environment.SetEnvironmentVariable(variable, "1");
        try
        {
            return builder.Build();
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, was);
        }
    }

    /// <summary>Whether this kernel has the socket layer's tracepoints the probe set prefers.</summary>
    public static bool KernelHasSocketTracepoints => SocketProbeSet.KernelHasSocketHooks;

    /// <summary>
    /// Whether this kernel's uprobe_multi links filter by process (6.10 on; 6.6.35 and 6.9.6 too,
    /// which this leaves out): then the TLS probes must be such links. Read from the kernel's own
    /// release string, not from what the library decided.
    /// </summary>
    public static bool KernelHasProcessFilteredUprobeMultiLinks
    {
        get
        {
            string[] release = File.ReadAllText("/proc/sys/kernel/osrelease").Split('.', '-');
            var version = new Version(int.Parse(release[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(release[1], System.Globalization.CultureInfo.InvariantCulture));
            return version >= new Version(6, 10);
        }
    }
}
