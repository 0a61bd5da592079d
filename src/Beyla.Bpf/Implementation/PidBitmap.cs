using System.Runtime.InteropServices;
using Beyla.Interop;

namespace Beyla.Implementation;

/// <summary>
/// User space's view of <c>traced_pid_bits</c> (bpf/http_tracker.h): one bit per process id,
/// shared with the kernel through a mapping of the map. The syscall hooks trace a process when
/// its bit is set; <c>traced_pids</c> holds the same pids. A pid's bit is set before the pid
/// enters <c>traced_pids</c> and cleared after it leaves; the kernel clears the bit of a
/// process that exits.
/// </summary>
internal sealed unsafe class PidBitmap : IDisposable
{
    /// <summary>PID_MAX_LIMIT on 64-bit Linux: no process id reaches it.</summary>
    public const int PidLimit = 4 * 1024 * 1024;

    private const int Words = PidLimit / 64;

    private readonly MappedRegionHandle _region;
    private readonly long* _words;

    public PidBitmap(int mapFd)
    {
        nuint length = Words * sizeof(long);
        nint address = LibC.Mmap(0, length, LibC.ProtRead | LibC.ProtWrite, LibC.MapShared, mapFd, 0);
        if (address == -1)
            throw BpfException.FromErrno("mmap the traced process bitmap", Marshal.GetLastPInvokeError());
        _region = new MappedRegionHandle(address, length);
        _words = (long*)address;
    }

    /// <summary>Sets <paramref name="pid"/>'s bit; atomic, since the kernel sets bits in the same words.</summary>
    public void Set(int pid) => Interlocked.Or(ref Word(pid), 1L << (pid & 63));

    /// <summary>Clears <paramref name="pid"/>'s bit; atomic.</summary>
    public void Clear(int pid) => Interlocked.And(ref Word(pid), ~(1L << (pid & 63)));

    private ref long Word(int pid)
    {
        if ((uint)pid >= PidLimit)
            throw new ArgumentOutOfRangeException(nameof(pid), pid, "not a Linux process id");
        return ref _words[pid >> 6];
    }

    /// <summary>The pids whose bit is set now, in order (a scan of all 512 KiB; for tests).</summary>
    public List<int> SetPids()
    {
        var pids = new List<int>();
        for (int w = 0; w < Words; w++)
        {
            long word = Volatile.Read(ref _words[w]);
            while (word != 0)
            {
                int bit = System.Numerics.BitOperations.TrailingZeroCount(word);
                pids.Add((w << 6) | bit);
                word &= word - 1;
            }
        }
        return pids;
    }

    public void Dispose() => _region.Dispose();
}
