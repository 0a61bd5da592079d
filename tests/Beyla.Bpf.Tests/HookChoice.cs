using Beyla.Implementation;

namespace Beyla.Bpf.Tests;

/// <summary>
/// Which hooks the socket probe set puts on reads and writes: the socket layer's tracepoints
/// where the kernel has them, the syscall tracepoints otherwise or when BEYLA_SYSCALL_HOOKS=1
/// asks for them (the kernel tests run one at a time, so the variable is set for one Build()).
/// </summary>
internal static class HookChoice
{
    /// <summary>Until disposed, a probe set built takes the syscall tracepoints.</summary>
    public static IDisposable SyscallTracepoints()
    {
        string? was = Environment.GetEnvironmentVariable(SocketProbeSet.SyscallHooksVariable);
        Environment.SetEnvironmentVariable(SocketProbeSet.SyscallHooksVariable, "1");
        return new Restore(was);
    }

    /// <summary>Whether this kernel has the socket layer's tracepoints the probe set prefers.</summary>
    public static bool KernelHasSocketTracepoints => SocketProbeSet.KernelHasSocketHooks;

    private sealed class Restore(string? was) : IDisposable
    {
        public void Dispose() => Environment.SetEnvironmentVariable(SocketProbeSet.SyscallHooksVariable, was);
    }
}
