using System.Buffers;
using System.Collections.Concurrent;

namespace Beyla.Implementation;

/// <summary>
/// The memory of a source's pipe: blocks of <see cref="BlockSize"/> bytes, kept for reuse when the
/// pipe hands them back, up to <see cref="RetainedBlocks"/> of them. A drain of a few thousand
/// records fills dozens of blocks at once, more than the shared array pool keeps per size: on
/// that pool the pipe allocated new arrays on every busy drain. Renting and returning take no lock.
/// </summary>
internal sealed class BlockMemoryPool : MemoryPool<byte>
{
    /// <summary>The size of every block (a pipe segment).</summary>
    public const int BlockSize = 16 * 1024;

    /// <summary>Blocks kept for reuse at most: 2 MiB, a full drain of 4,096 spans with room to spare.</summary>
    public const int RetainedBlocks = 128;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;

    /// <inheritdoc />
    public override int MaxBufferSize => BlockSize;

    /// <summary>Blocks waiting to be reused (for tests).</summary>
    internal int FreeCount => Volatile.Read(ref _freeCount);

    /// <inheritdoc />
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (_free.TryDequeue(out Block? block))
        {
            Interlocked.Decrement(ref _freeCount);
            block.Rented = true;
            return block;
        }
        return new Block(this);
    }

    private void Return(Block block)
    {
        if (Interlocked.Increment(ref _freeCount) <= RetainedBlocks)
        {
            _free.Enqueue(block);
            return;
        }
        Interlocked.Decrement(ref _freeCount); // enough kept: this one goes to the GC
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        while (_free.TryDequeue(out _))
        {
        }
    }

    /// <summary>One block; disposing it gives it back to its pool.</summary>
    private sealed class Block(BlockMemoryPool pool) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = new byte[BlockSize];

        public bool Rented { get; set; } = true;

        public Memory<byte> Memory => _array;

        public void Dispose()
        {
            if (!Rented)
                return; // given back already
            Rented = false;
            pool.Return(this);
        }
    }
}
