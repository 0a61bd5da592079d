using System.Runtime.InteropServices;
using Beyla.Interop;

namespace Beyla.Implementation;

/// <summary>
/// One BPF ring buffer read straight from its memory mapping (the kernel ABI: a consumer page,
/// a producer page, then the data pages mapped twice so that a record never wraps). Records are
/// looked at in place, one at a time, between <see cref="BeginDrain"/> and <see cref="EndDrain"/>,
/// which hands the space back to the kernel. No call into native code per record.
/// </summary>
internal sealed unsafe class RingBufferReader : IDisposable
{
    private const uint BusyBit = 1u << 31;
    private const uint DiscardBit = 1u << 30;
    /// <summary>The kernel's header before each record: its length (with the busy and discard bits) and a page offset.</summary>
    internal const int HeaderSize = 8;

    private readonly FileDescriptorHandle _ring;
    private readonly MappedRegionHandle _consumerRegion;
    private readonly MappedRegionHandle _producerRegion;
    private readonly ulong* _consumerPos;
    private readonly ulong* _producerPos;
    private readonly byte* _data;
    private readonly ulong _mask;
    private ulong _position; // between BeginDrain and EndDrain: the next record to look at
    private ulong _end;      // between BeginDrain and EndDrain: the producer position when the drain began

    /// <summary>Maps the ring <paramref name="ring"/> (owned from here on) of <paramref name="dataSize"/> bytes.</summary>
    public RingBufferReader(FileDescriptorHandle ring, int dataSize)
    {
        _ring = ring;
        int page = LibC.GetPageSize();
        nint consumer = LibC.Mmap(0, (nuint)page, LibC.ProtRead | LibC.ProtWrite, LibC.MapShared, ring.Fd, 0);
        if (consumer == -1)
            throw BpfException.FromErrno("mmap a ring buffer's consumer page", Marshal.GetLastPInvokeError());
        _consumerRegion = new MappedRegionHandle(consumer, (nuint)page);
        nuint producerLength = (nuint)page + 2 * (nuint)dataSize;
        nint producer = LibC.Mmap(0, producerLength, LibC.ProtRead, LibC.MapShared, ring.Fd, page);
        if (producer == -1)
        {
            int errno = Marshal.GetLastPInvokeError();
            _consumerRegion.Dispose();
            throw BpfException.FromErrno("mmap a ring buffer's data pages", errno);
        }
        _producerRegion = new MappedRegionHandle(producer, producerLength);
        _consumerPos = (ulong*)consumer;
        _producerPos = (ulong*)producer;
        _data = (byte*)producer + page;
        _mask = (ulong)dataSize - 1;
    }

    /// <summary>The ring's map descriptor: readable (poll) when the kernel signals data.</summary>
    public int Fd => _ring.Fd;

    public bool HasData() => Volatile.Read(ref *_consumerPos) < Volatile.Read(ref *_producerPos);

    /// <summary>Starts a drain of the records written so far (later ones wait for the next drain).</summary>
    public void BeginDrain()
    {
        _position = Volatile.Read(ref *_consumerPos);
        _end = Volatile.Read(ref *_producerPos);
    }

    /// <summary>
    /// The next committed record of the drain (discarded ones are passed over), or null when
    /// there is none: no more were written before the drain began, or the next is still being written.
    /// </summary>
    public byte* Peek(out int length)
    {
        while (_position < _end)
        {
            byte* header = _data + (_position & _mask);
            uint lengthWord = Volatile.Read(ref *(uint*)header);
            if ((lengthWord & BusyBit) != 0)
                break;
            length = (int)(lengthWord & ~(BusyBit | DiscardBit));
            if ((lengthWord & DiscardBit) == 0)
                return header + HeaderSize;
            Advance(length);
        }
        length = 0;
        return null;
    }

    /// <summary>Moves past the record <see cref="Peek"/> returned, of <paramref name="length"/> bytes.</summary>
    public void Advance(int length) => _position += (ulong)Footprint(length);

    /// <summary>The room a record of <paramref name="length"/> bytes takes in the ring: its header and itself, 8-byte aligned.</summary>
    internal static int Footprint(int length) => (length + HeaderSize + 7) & ~7;

    /// <summary>Hands the space of every record passed over since <see cref="BeginDrain"/> back to the kernel.</summary>
    public void EndDrain()
    {
        // not written when unchanged: the kernel reads this line for every record it reserves
        if (_position != *_consumerPos)
            Volatile.Write(ref *_consumerPos, _position);
    }

    public void Dispose()
    {
        _producerRegion.Dispose();
        _consumerRegion.Dispose();
        _ring.Dispose();
    }
}
