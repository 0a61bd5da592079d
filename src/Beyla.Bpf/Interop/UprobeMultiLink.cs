using System.Runtime.InteropServices;

namespace Beyla.Interop;

/// <summary>
/// A uprobe_multi link (BPF_LINK_CREATE with BPF_TRACE_UPROBE_MULTI, Linux 6.6): a uprobe that the
/// kernel filters by process itself, with no perf event. A perf-event uprobe for one process is a
/// per-task perf event, which the kernel switches out and in with that process at every context
/// switch (about 2 µs a switch with a process's ten TLS probes, in this VM), whether or not the
/// probed function ever runs. libbpf 1.1 has no call for this link, so the bpf() syscall is made
/// here.
/// </summary>
internal static unsafe class UprobeMultiLink
{
    private const long SysBpf = 321; // x86_64
    private const long BpfLinkCreate = 28;
    private const uint ReturnProbe = 1; // BPF_F_UPROBE_MULTI_RETURN

    // union bpf_attr, link_create with its uprobe_multi member (include/uapi/linux/bpf.h)
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    private struct LinkCreateAttr
    {
        [FieldOffset(0)] public uint ProgramFd;
        [FieldOffset(4)] public uint TargetFd;
        [FieldOffset(8)] public uint AttachType;
        [FieldOffset(12)] public uint Flags;
        [FieldOffset(16)] public ulong Path;
        [FieldOffset(24)] public ulong Offsets;
        [FieldOffset(32)] public ulong RefCounterOffsets;
        [FieldOffset(40)] public ulong Cookies;
        [FieldOffset(48)] public uint Count;
        [FieldOffset(52)] public uint MultiFlags;
        [FieldOffset(56)] public uint Pid;
    }

    /// <summary>
    /// Whether this kernel makes uprobe_multi links for a program loaded for them, and filters
    /// them by process rather than by thread (as libbpf probes it). The first kernels with these
    /// links (6.6 to 6.9, before 6.6.35 and 6.9.6) ran a link's program only in the thread whose
    /// id was given: every TLS call on another thread of a traced process would be lost unseen.
    /// A link on "/" fails with EBADF where links exist; with pid -1, with EINVAL where the filter
    /// is by process (else ESRCH or EBADF).
    /// </summary>
    public static bool Works(int programFd, out string reason)
    {
        int errno = CreateRaw(programFd, "/", [0], [0], returnProbe: true, pid: 0, out long fd);
        if (fd >= 0 || errno != 9) // EBADF
        {
            reason = fd >= 0 ? "the kernel made a link on \"/\"" : $"this kernel has no uprobe_multi links ({Marshal.GetPInvokeErrorMessage(errno)})";
            return false;
        }
        errno = CreateRaw(programFd, "/", [0], [0], returnProbe: true, pid: -1, out fd);
        if (fd >= 0 || errno != 22) // EINVAL
        {
            reason = "this kernel's uprobe_multi links filter by thread, not by process (fixed in 6.6.35, 6.9.6 and 6.10)";
            return false;
        }
        reason = "";
        return true;
    }

    /// <summary>
    /// Attaches program <paramref name="programFd"/> (loaded with expected attach type
    /// <see cref="LibBpf.AttachTraceUprobeMulti"/>) at the file offsets <paramref name="offsets"/> of
    /// <paramref name="path"/>, each with its cookie, for process <paramref name="pid"/> or every
    /// process (-1). Returns the link, or null and the errno.
    /// </summary>
    public static FileDescriptorHandle? Create(int programFd, string path, ulong[] offsets, ulong[] cookies, bool returnProbe, int pid, out int errno)
    {
        if (offsets.Length == 0 || cookies.Length != offsets.Length)
            throw new ArgumentException("one cookie per offset, and at least one offset", nameof(cookies));
        errno = CreateRaw(programFd, path, offsets, cookies, returnProbe, pid > 0 ? pid : 0, out long fd);
        return fd < 0 ? null : new FileDescriptorHandle((int)fd);
    }

    /// <summary>BPF_LINK_CREATE as given (pid passed through: 0 is every process); the errno when it failed.</summary>
    private static int CreateRaw(int programFd, string path, ulong[] offsets, ulong[] cookies, bool returnProbe, int pid, out long fd)
    {
        byte[] name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* namePtr = name)
        fixed (ulong* offsetsPtr = offsets)
        fixed (ulong* cookiesPtr = cookies)
        {
            var attr = new LinkCreateAttr
            {
                ProgramFd = (uint)programFd,
                AttachType = LibBpf.AttachTraceUprobeMulti,
                Path = (ulong)namePtr,
                Offsets = (ulong)offsetsPtr,
                Cookies = (ulong)cookiesPtr,
                Count = (uint)offsets.Length,
                MultiFlags = returnProbe ? ReturnProbe : 0,
                Pid = (uint)pid,
            };
            fd = LibC.Syscall(SysBpf, BpfLinkCreate, &attr, sizeof(LinkCreateAttr));
            return fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
    }
}
