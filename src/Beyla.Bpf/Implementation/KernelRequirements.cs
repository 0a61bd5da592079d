using Beyla.Interop;

namespace Beyla.Implementation;

/// <summary>Checks, before anything is loaded, that this machine can run the probes, and says what is missing.</summary>
internal static class KernelRequirements
{
    private const int CapSysAdmin = 21;
    private const int CapPerfmon = 38;
    private const int CapBpf = 39;
    private const string TraceFs = "/sys/kernel/tracing";
    private const string BtfPath = "/sys/kernel/btf/vmlinux";

    public static void Check()
    {
        if (!OperatingSystem.IsLinux())
            throw new BeylaException("The kernel probes need Linux.");
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
        if (!File.Exists(BtfPath))
            throw new BeylaException($"The kernel exposes no BTF ({BtfPath} is missing): the probes need a kernel built with CONFIG_DEBUG_INFO_BTF=y.");
        EnsureTraceFs(admin);
    }

    /// <summary>Mounts tracefs when it is missing and this process may mount; libbpf needs it to attach tracepoints and uprobes.</summary>
    private static void EnsureTraceFs(bool canMount)
    {
        if (Directory.Exists(Path.Combine(TraceFs, "events")))
            return;
        if (Directory.Exists("/sys/kernel/debug/tracing/events"))
            return;
        if (!canMount)
            throw new BeylaException($"tracefs is not mounted at {TraceFs} and this process may not mount it (needs CAP_SYS_ADMIN): run 'mount -t tracefs tracefs {TraceFs}' as root.");
        if (LibC.Mount("tracefs", TraceFs, "tracefs", 0, 0) != 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw BpfException.FromErrno($"mount tracefs at {TraceFs}", errno);
        }
    }

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
