using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Beyla.Interop;

namespace Beyla.Implementation;

/// <summary>
/// Reads a BPF ring buffer straight from its memory mapping (the kernel ABI: a consumer page,
/// a producer page, then the data pages mapped twice so that a record never wraps), and
/// copies each record into a pipe as a framed record. No call into native code per record.
/// </summary>
internal sealed unsafe class RingBufferReader : IDisposable
{
    private const uint BusyBit = 1u << 31;
    private const uint DiscardBit = 1u << 30;
    private const int HeaderSize = 8;

    private readonly int _fd;
    private readonly MappedRegionHandle _consumerRegion;
    private readonly MappedRegionHandle _producerRegion;
    private readonly ulong* _consumerPos;
    private readonly ulong* _producerPos;
    private readonly byte* _data;
    private readonly ulong _mask;
    private readonly FileDescriptorHandle _interrupt; // an eventfd: Interrupt ends a Wait early

    public RingBufferReader(int mapFd, int dataSize)
    {
        _fd = mapFd;
        int page = LibC.GetPageSize();
        nint consumer = LibC.Mmap(0, (nuint)page, LibC.ProtRead | LibC.ProtWrite, LibC.MapShared, mapFd, 0);
        if (consumer == -1)
            throw BpfException.FromErrno("mmap the ring buffer's consumer page", Marshal.GetLastPInvokeError());
        _consumerRegion = new MappedRegionHandle(consumer, (nuint)page);
        nuint producerLength = (nuint)page + 2 * (nuint)dataSize;
        nint producer = LibC.Mmap(0, producerLength, LibC.ProtRead, LibC.MapShared, mapFd, page);
        if (producer == -1)
        {
            int errno = Marshal.GetLastPInvokeError();
            _consumerRegion.Dispose();
            throw BpfException.FromErrno("mmap the ring buffer's data pages", errno);
        }
        _producerRegion = new MappedRegionHandle(producer, producerLength);
        _consumerPos = (ulong*)consumer;
        _producerPos = (ulong*)producer;
        _data = (byte*)producer + page;
        _mask = (ulong)dataSize - 1;
        int interrupt = LibC.EventFd(0, LibC.EfdCloexec | LibC.EfdNonblock);
        if (interrupt < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _producerRegion.Dispose();
            _consumerRegion.Dispose();
            throw BpfException.FromErrno("create an eventfd to interrupt waits on the ring buffer", errno);
        }
        _interrupt = new FileDescriptorHandle(interrupt);
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for the kernel to signal data, or for
    /// <see cref="Interrupt"/>; true when there are records to drain.
    /// </summary>
    public bool Wait(int timeoutMs)
    {
        if (HasData())
            return true;
        LibC.PollFd* fds = stackalloc LibC.PollFd[2];
        fds[0] = new LibC.PollFd { Fd = _fd, Events = LibC.PollIn };
        fds[1] = new LibC.PollFd { Fd = _interrupt.Fd, Events = LibC.PollIn };
        if (LibC.Poll(fds, 2, timeoutMs) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EINTR)
                throw BpfException.FromErrno("poll the ring buffer", errno);
        }
        return HasData();
    }

    /// <summary>Ends the current <see cref="Wait"/> and makes every later one return at once.</summary>
    public void Interrupt()
    {
        ulong one = 1;
        LibC.Write(_interrupt.Fd, &one, sizeof(ulong));
    }

    public bool HasData() => Volatile.Read(ref *_consumerPos) < Volatile.Read(ref *_producerPos);

    /// <summary>
    /// Copies every committed record into <paramref name="writer"/> (framed, not flushed),
    /// except those <paramref name="keep"/> takes for the probe set itself; returns the count.
    /// </summary>
    public int Drain(PipeWriter writer, int maxRecords, RecordInterceptor? keep = null)
    {
        ulong consumerPos = Volatile.Read(ref *_consumerPos);
        ulong producerPos = Volatile.Read(ref *_producerPos);
        int count = 0;
        while (consumerPos < producerPos && count < maxRecords)
        {
            byte* header = _data + (consumerPos & _mask);
            uint lengthWord = Volatile.Read(ref *(uint*)header);
            if ((lengthWord & BusyBit) != 0)
                break;
            int length = (int)(lengthWord & ~(BusyBit | DiscardBit));
            if ((lengthWord & DiscardBit) == 0 && (keep is null || !keep(new ReadOnlySpan<byte>(header + HeaderSize, length))))
            {
                Span<byte> dest = writer.GetSpan(4 + length);
                BinaryPrimitives.WriteInt32LittleEndian(dest, length);
                new ReadOnlySpan<byte>(header + HeaderSize, length).CopyTo(dest[4..]);
                writer.Advance(4 + length);
                count++;
            }
            consumerPos += (ulong)((length + HeaderSize + 7) & ~7);
            producerPos = Volatile.Read(ref *_producerPos);
        }
        Volatile.Write(ref *_consumerPos, consumerPos);
        return count;
    }

    /// <summary>Looks at a record before it is forwarded; returns true to keep it from the pipe.</summary>
    public delegate bool RecordInterceptor(ReadOnlySpan<byte> record);

    public void Dispose()
    {
        _producerRegion.Dispose();
        _consumerRegion.Dispose();
        _interrupt.Dispose();
    }
}
