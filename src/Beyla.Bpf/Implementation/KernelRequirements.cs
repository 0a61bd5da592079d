using System.Runtime.InteropServices;
using Beyla.Interop;

namespace Beyla.Implementation;

/// <summary>Checks, before anything is loaded, that this machine can run the probes, and says what is missing.</summary>
internal static class KernelRequirements
{
    public const string DefaultBtfPath = "/sys/kernel/btf/vmlinux";
    public const string DefaultTraceFsPath = "/sys/kernel/tracing";
    public const string DefaultDebugFsTracingPath = "/sys/kernel/debug/tracing";

    private const int CapSysAdmin = 21;
    private const int CapPerfmon = 38;
    private const int CapBpf = 39;

    /// <summary>Where the kernel exposes its BTF. A seam for tests: a kernel without BTF is simulated by pointing it at a missing file.</summary>
    internal static string BtfPath { get; set; } = DefaultBtfPath;

    /// <summary>Where tracefs is (or gets) mounted. A seam for tests.</summary>
    internal static string TraceFsPath { get; set; } = DefaultTraceFsPath;

    /// <summary>tracefs under debugfs, which libbpf also accepts. A seam for tests.</summary>
    internal static string DebugFsTracingPath { get; set; } = DefaultDebugFsTracingPath;

    public static void Check()
    {
        if (!OperatingSystem.IsLinux())
            throw new MissingRequirementException(EnvironmentRequirement.Linux, "The kernel probes need Linux.");
        ulong caps = EffectiveCapabilities();
        bool admin = (caps & (1UL << CapSysAdmin)) != 0;
        bool bpf = (caps & (1UL << CapBpf)) != 0 || admin;
        bool perfmon = (caps & (1UL << CapPerfmon)) != 0 || admin;
        if (!bpf || !perfmon)
        {
            var missing = new List<string>();
            if (!bpf)
                missing.Add("CAP_BPF");
            if (!perfmon)
                missing.Add("CAP_PERFMON");
            throw new InsufficientPrivilegesException(missing,
                $"Tracing needs root or the capabilities CAP_BPF and CAP_PERFMON; this process (euid {LibC.GetEffectiveUserId()}) lacks {string.Join(" and ", missing)}.");
        }
        CheckBtf(BtfPath);
        EnsureTraceFs(TraceFsPath, DebugFsTracingPath, canMount: admin);
    }

    /// <summary>
    /// The probes need the kernel's own BTF: libbpf relocates them against it (CO-RE) and the
    /// verifier checks <c>bpf_get_current_task_btf</c> against it, so a BTF file from elsewhere
    /// cannot stand in for it.
    /// </summary>
    internal static void CheckBtf(string btfPath)
    {
        if (!File.Exists(btfPath))
        {
            throw new MissingRequirementException(EnvironmentRequirement.KernelBtf,
                $"The kernel exposes no BTF ({btfPath} is missing): the probes need a kernel built with CONFIG_DEBUG_INFO_BTF=y, as most distribution kernels are; boot such a kernel.");
        }
    }

    /// <summary>Mounts tracefs when it is missing and this process may mount; libbpf needs it to attach tracepoints and uprobes.</summary>
    internal static void EnsureTraceFs(string traceFs, string debugFsTracing, bool canMount)
    {
        if (Directory.Exists(Path.Combine(traceFs, "events")))
            return;
        if (Directory.Exists(Path.Combine(debugFsTracing, "events")))
            return;
        if (!canMount)
        {
            throw new MissingRequirementException(EnvironmentRequirement.TraceFs,
                $"tracefs is not mounted at {traceFs} and this process may not mount it (needs CAP_SYS_ADMIN): run 'mount -t tracefs tracefs {traceFs}' as root.");
        }
        if (LibC.Mount("tracefs", traceFs, "tracefs", 0, 0) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new MissingRequirementException(EnvironmentRequirement.TraceFs,
                $"tracefs is not mounted at {traceFs} and mounting it failed: {LibC.ErrorText(errno)} (errno {errno}): run 'mount -t tracefs tracefs {traceFs}' as root (in a container, mount the host's {DefaultTraceFsPath} into it).");
        }
    }

    /// <summary>Whether this kernel has tracepoint <paramref name="category"/>:<paramref name="name"/> (after <see cref="Check"/>: tracefs is mounted).</summary>
    public static bool HasTracepoint(string category, string name) =>
        Directory.Exists(Path.Combine(TraceFsPath, "events", category, name)) ||
        Directory.Exists(Path.Combine(DebugFsTracingPath, "events", category, name));

    private static ulong EffectiveCapabilities()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
                return Convert.ToUInt64(line["CapEff:".Length..].Trim(), 16);
        }
        return 0;
    }
}
