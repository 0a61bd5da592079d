using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Beyla.Interop;

namespace Beyla.Implementation;

/// <summary>
/// The probe sets' ring buffers, one per online CPU, made here and put in the map-in-map
/// <c>event_rings</c> (a program writes to the ring of the CPU it runs on, so producers never
/// contend for one ring). Waits on them all at once, and copies their records into a pipe as
/// framed records, merged in the order the spans ended.
/// </summary>
internal sealed unsafe class EventRings : IDisposable
{
    private readonly RingBufferReader[] _rings;
    private readonly int[] _cpus;    // the CPU of each ring
    private readonly FileDescriptorHandle _interrupt; // an eventfd: Interrupt ends a Wait early
    private readonly byte*[] _next;  // during a drain: each ring's next record, null when it has none
    private readonly int[] _nextLength;
    private readonly ulong[] _nextKey; // and its OrderKey
    private readonly long[] _recordsPerRing;

    private EventRings(RingBufferReader[] rings, int[] cpus, FileDescriptorHandle interrupt)
    {
        _rings = rings;
        _cpus = cpus;
        _interrupt = interrupt;
        _next = new byte*[rings.Length];
        _nextLength = new int[rings.Length];
        _nextKey = new ulong[rings.Length];
        _recordsPerRing = new long[rings.Length];
    }

    /// <summary>How many rings there are (one per CPU online when they were made).</summary>
    public int Count => _rings.Length;

    /// <summary>The buffer asked of the writer at a time during a drain: about 50 spans' frames, one block of the tracer's pipe.</summary>
    private const int WriteChunkBytes = 16 * 1024;

    /// <summary>The least a CPU's ring gets however many CPUs share the total (unless the total is smaller): about 3,000 spans.</summary>
    public const int MinRingBytes = 1024 * 1024;

    /// <summary>
    /// The size of each CPU's ring when <paramref name="totalBytes"/> (a power of two) are shared
    /// among <paramref name="cpus"/> CPUs: the largest power of two within an even share, but at
    /// least <see cref="MinRingBytes"/> (or the total, if smaller) and a page.
    /// </summary>
    public static int RingBytesFor(int totalBytes, int cpus)
    {
        int share = totalBytes / Math.Max(cpus, 1);
        int bytes = share <= 1 ? 1 : 1 << (31 - int.LeadingZeroCount(share));
        bytes = Math.Max(bytes, Math.Min(totalBytes, MinRingBytes));
        return Math.Max(bytes, LibC.GetPageSize());
    }

    /// <summary>Records handed on from each ring so far (for tests).</summary>
    internal long[] RecordsPerRing => [.. _recordsPerRing];

    /// <summary>
    /// Makes a ring of <paramref name="ringBytes"/> for each CPU in <paramref name="cpus"/>;
    /// <see cref="Install"/> puts them in <c>event_rings</c> once the probe set is loaded.
    /// </summary>
    public static EventRings Create(int ringBytes, IReadOnlyList<int> cpus)
    {
        var rings = new List<FileDescriptorHandle>(cpus.Count);
        try
        {
            foreach (int cpu in cpus)
            {
                int fd;
                fixed (byte* name = "beyla_events\0"u8)
                    fd = LibBpf.MapCreate(LibBpf.MapTypeRingBuffer, name, 0, 0, (uint)ringBytes, null);
                if (fd < 0)
                    throw BpfException.FromErrno($"create the ring buffer of CPU {cpu} ({ringBytes} bytes)", Marshal.GetLastPInvokeError());
                rings.Add(new FileDescriptorHandle(fd));
            }
        }
        catch
        {
            foreach (FileDescriptorHandle ring in rings)
                ring.Dispose();
            throw;
        }
        return Over(rings, ringBytes, cpus);
    }

    /// <summary>
    /// Readers over rings already made (owned from here on, disposed if this fails), of
    /// <paramref name="ringBytes"/> each, the ring of <c>cpus[i]</c> at index i. Anything laid out
    /// as a ring buffer is read alike: the benchmarks hand in files.
    /// </summary>
    internal static EventRings Over(IReadOnlyList<FileDescriptorHandle> ringFds, int ringBytes, IReadOnlyList<int> cpus)
    {
        var rings = new List<RingBufferReader>(ringFds.Count);
        try
        {
            foreach (FileDescriptorHandle fd in ringFds)
                rings.Add(new RingBufferReader(fd, ringBytes));
            int interrupt = LibC.EventFd(0, LibC.EfdCloexec | LibC.EfdNonblock);
            if (interrupt < 0)
                throw BpfException.FromErrno("create an eventfd to interrupt waits on the ring buffers", Marshal.GetLastPInvokeError());
            return new EventRings([.. rings], [.. cpus], new FileDescriptorHandle(interrupt));
        }
        catch
        {
            foreach (RingBufferReader ring in rings)
                ring.Dispose();
            foreach (FileDescriptorHandle fd in ringFds.Skip(rings.Count))
                fd.Dispose();
            throw;
        }
    }

    /// <summary>A ring, as the template of the map-in-map's values (all rings are alike).</summary>
    public int TemplateFd => _rings[0].Fd;

    /// <summary>
    /// Fills the loaded map-in-map <paramref name="ringsMapFd"/> (one slot per possible CPU,
    /// <paramref name="possibleCpus"/>): each CPU's ring at its index, and in the slot of a CPU
    /// that was offline (it may come online later) one of the rings, so that no CPU is without one.
    /// </summary>
    public void Install(int ringsMapFd, int possibleCpus)
    {
        for (int cpu = 0; cpu < possibleCpus; cpu++)
        {
            int index = Array.IndexOf(_cpus, cpu);
            uint key = (uint)cpu;
            int fd = _rings[index >= 0 ? index : cpu % _rings.Length].Fd;
            if (LibBpf.MapUpdateElem(ringsMapFd, &key, &fd, 0) != 0)
                throw BpfException.FromErrno($"put a ring buffer in event_rings for CPU {cpu}", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>The CPUs online now, from <c>/sys/devices/system/cpu/online</c>; every possible one if that cannot be read.</summary>
    public static List<int> OnlineCpus(int possible)
    {
        string? list = null;
        try
        {
            list = File.ReadAllText("/sys/devices/system/cpu/online");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
        List<int> cpus = list is null ? [] : ParseCpuList(list, possible);
        if (cpus.Count == 0)
            cpus.AddRange(Enumerable.Range(0, Math.Max(possible, 1)));
        return cpus;
    }

    /// <summary>The CPUs below <paramref name="possible"/> in a kernel CPU list ("0-3,6"); none if it cannot be parsed.</summary>
    public static List<int> ParseCpuList(string list, int possible)
    {
        var cpus = new List<int>();
        foreach (string range in list.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            string[] ends = range.Split('-');
            if (ends.Length > 2
                || !int.TryParse(ends[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int first)
                || !int.TryParse(ends[^1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int last))
            {
                return [];
            }
            for (int cpu = first; cpu <= last && cpu < possible; cpu++)
                cpus.Add(cpu);
        }
        return cpus;
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for the kernel to signal data in any ring, or
    /// for <see cref="Interrupt"/>; true when there are records to drain.
    /// </summary>
    public bool Wait(int timeoutMs)
    {
        if (HasData())
            return true;
        int count = _rings.Length + 1;
        LibC.PollFd* fds = stackalloc LibC.PollFd[count];
        for (int i = 0; i < _rings.Length; i++)
            fds[i] = new LibC.PollFd { Fd = _rings[i].Fd, Events = LibC.PollIn };
        fds[_rings.Length] = new LibC.PollFd { Fd = _interrupt.Fd, Events = LibC.PollIn };
        if (LibC.Poll(fds, (ulong)count, timeoutMs) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EINTR)
                throw BpfException.FromErrno("poll the ring buffers", errno);
        }
        return HasData();
    }

    /// <summary>Ends the current <see cref="Wait"/> and makes every later one return at once.</summary>
    public void Interrupt()
    {
        ulong one = 1;
        LibC.Write(_interrupt.Fd, &one, sizeof(ulong));
    }

    public bool HasData()
    {
        foreach (RingBufferReader ring in _rings)
        {
            if (ring.HasData())
                return true;
        }
        return false;
    }

    /// <summary>
    /// Copies up to <paramref name="maxRecords"/> committed records into <paramref name="writer"/>
    /// (framed, not flushed), except those <paramref name="keep"/> takes for the probe set
    /// itself (it is shown every record that is not a span); returns the count. Only records committed when the drain began are taken, so that
    /// the rings are merged as they were at one moment: each ring's records in the order they
    /// were written, and across rings the span that ended first goes first (other records before
    /// spans). Consumers see spans in about the order they ended (within a ring, a span reported
    /// at a close can follow one that ended after it).
    /// </summary>
    public int Drain(PipeWriter writer, int maxRecords, RecordInterceptor? keep = null)
    {
        int rings = _rings.Length;
        for (int i = 0; i < rings; i++)
        {
            _rings[i].BeginDrain();
            PeekNext(i);
        }
        int count = 0;
        // Frames are copied into the writer's current buffer one after another and the writer is
        // advanced once per buffer, not once per record: Pipe.Advance takes the pipe's lock.
        Span<byte> dest = default;
        int used = 0;
        while (count < maxRecords)
        {
            int first = -1;
            ulong firstKey = 0;
            for (int i = 0; i < rings; i++)
            {
                if (_next[i] != null && (first < 0 || _nextKey[i] < firstKey))
                {
                    first = i;
                    firstKey = _nextKey[i];
                }
            }
            if (first < 0)
                break;
            var record = new ReadOnlySpan<byte>(_next[first], _nextLength[first]);
            if (firstKey != 0 || keep is null || !keep(record)) // spans go straight through
            {
                int frame = 4 + record.Length;
                if (dest.Length - used < frame)
                {
                    if (used > 0)
                        writer.Advance(used);
                    // first what is left of the writer's buffer, then whole chunks
                    dest = writer.GetSpan(dest.IsEmpty ? frame : Math.Max(frame, WriteChunkBytes));
                    used = 0;
                }
                BinaryPrimitives.WriteInt32LittleEndian(dest[used..], record.Length);
                record.CopyTo(dest[(used + 4)..]);
                used += frame;
                count++;
                _recordsPerRing[first]++;
            }
            _rings[first].Advance(record.Length);
            PeekNext(first);
        }
        if (used > 0)
            writer.Advance(used);
        for (int i = 0; i < rings; i++)
            _rings[i].EndDrain();
        return count;
    }

    /// <summary>Looks at ring <paramref name="i"/>'s next record of the drain, and works out its place in the merge once.</summary>
    private void PeekNext(int i)
    {
        _next[i] = _rings[i].Peek(out _nextLength[i]);
        if (_next[i] != null)
            _nextKey[i] = OrderKey(_next[i], _nextLength[i]);
    }

    /// <summary>A span's end time (CLOCK_MONOTONIC); 0 for other records (process notices).</summary>
    private static ulong OrderKey(byte* record, int length) =>
        length >= HttpEventLayout.EndNs + 8 && *(uint*)record == HttpEventLayout.TypeHttpSpan
            ? *(ulong*)(record + HttpEventLayout.EndNs)
            : 0;

    /// <summary>Looks at a record that is not a span before it is forwarded; returns true to keep it from the pipe.</summary>
    public delegate bool RecordInterceptor(ReadOnlySpan<byte> record);

    public void Dispose()
    {
        foreach (RingBufferReader ring in _rings)
            ring.Dispose();
        _interrupt.Dispose();
    }
}
