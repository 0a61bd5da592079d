namespace Beyla;

/// <summary>Something the kernel probes need from the machine, named by a <see cref="MissingRequirementException"/>.</summary>
public enum EnvironmentRequirement
{
    /// <summary>Linux: the probes are eBPF programs.</summary>
    Linux,

    /// <summary>
    /// The kernel's own BTF at <c>/sys/kernel/btf/vmlinux</c>, from a kernel built with
    /// <c>CONFIG_DEBUG_INFO_BTF=y</c>: CO-RE relocations and <c>bpf_get_current_task_btf</c> need it.
    /// </summary>
    KernelBtf,

    /// <summary>libbpf 1.0 or newer (<c>libbpf.so.1</c>; Debian and Ubuntu package <c>libbpf1</c>).</summary>
    LibBpf,

    /// <summary>tracefs at <c>/sys/kernel/tracing</c>, through which libbpf attaches tracepoints and uprobes.</summary>
    TraceFs,
}
