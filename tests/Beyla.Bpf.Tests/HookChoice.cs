using Beyla.Implementation;
using Microsoft.Extensions.Logging;

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
        Environment.SetEnvironmentVariable("BEYLA_SYSCALL_HOOKS", "1");
        return new Restore();
    }

    /// <summary>Whether this kernel has the socket layer's tracepoints the probe set prefers.</summary>
    public static bool KernelHasSocketTracepoints =>
        KernelRequirements.HasTracepoint("sock", "sock_recv_length") &&
        KernelRequirements.HasTracepoint("sock", "sock_send_length") &&
        KernelRequirements.HasTracepoint("tcp", "tcp_sendmsg_locked");

    private sealed class Restore : IDisposable
    {
        public void Dispose() => Environment.SetEnvironmentVariable("BEYLA_SYSCALL_HOOKS", null);
    }
}
