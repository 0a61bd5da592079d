using Beyla.Implementation;

namespace Beyla;

/// <summary>Adds the kernel probe sets to a <see cref="BeylaBuilder"/>.</summary>
public static class BeylaBuilderBpfExtensions
{
    /// <summary>
    /// Traces HTTP/1.x over TCP in any language with the socket probe set (syscall
    /// tracepoints). <see cref="BeylaBuilder.Build"/> then needs Linux, root (or CAP_BPF and
    /// CAP_PERFMON), a kernel with BTF, libbpf 1.0 or newer (libbpf.so.1) and tracefs (mounted
    /// when missing, with CAP_SYS_ADMIN). It throws an <see cref="InsufficientPrivilegesException"/>
    /// when capabilities are missing, and a <see cref="MissingRequirementException"/> naming the
    /// missing <see cref="EnvironmentRequirement"/> and what to do otherwise.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <returns>The builder.</returns>
    public static BeylaBuilder WithHttpProbes(this BeylaBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithEventSource(context => new SocketProbeSet(context));
    }
}
