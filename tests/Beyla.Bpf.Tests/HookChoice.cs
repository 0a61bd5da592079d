using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>
/// Which hooks the socket probe set puts on reads and writes: the socket layer's tracepoints
/// where the kernel has them, the syscall tracepoints otherwise or when BEYLA_SYSCALL_HOOKS=1
/// asks for them (the kernel tests run one at a time, so the variable is set for one Build()).
/// </summary>
internal static class HookChoice
{
    /// <summary>Builds <paramref name="builder"/>'s tracer with the syscall tracepoints when <paramref name="syscallHooks"/>, else with what the kernel offers.</summary>
    public static BeylaTracer Build(BeylaBuilder builder, bool syscallHooks)
    {
        if (!syscallHooks)
            return builder.Build();
        string? was = Environment.GetEnvironmentVariable(SocketProbeSet.SyscallHooksVariable);
        Environment.SetEnvironmentVariable(SocketProbeSet.SyscallHooksVariable, "1");
        try
        {
            return builder.Build();
        }
        finally
        {
            Environment.SetEnvironmentVariable(SocketProbeSet.SyscallHooksVariable, was);
        }
    }

    /// <summary>Whether this kernel has the socket layer's tracepoints the probe set prefers.</summary>
    public static bool KernelHasSocketTracepoints => SocketProbeSet.KernelHasSocketHooks;
}
