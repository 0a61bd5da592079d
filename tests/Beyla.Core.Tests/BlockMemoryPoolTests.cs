using System.Buffers;
using Beyla.Implementation;

namespace Beyla.Tests;

public sealed class BlockMemoryPoolTests
{
    [Fact]
    public void AReturnedBlockIsRentedAgainInsteadOfANewOne()
    {
        using var pool = new BlockMemoryPool();
        IMemoryOwner<byte> first = pool.Rent(100);
        Memory<byte> memory = first.Memory;
        first.Dispose();

        IMemoryOwner<byte> second = pool.Rent(BlockMemoryPool.BlockSize);

        Assert.Equal(BlockMemoryPool.BlockSize, memory.Length);
        Assert.Same(first, second);
        Assert.True(second.Memory.Span == memory.Span);
        Assert.Equal(0, pool.FreeCount);
    }

    [Fact]
    public void NoMoreThanTheRetainedBlocksAreKeptAndADoubleReturnKeepsOneCopy()
    {
        using var pool = new BlockMemoryPool();
        var rented = Enumerable.Range(0, BlockMemoryPool.RetainedBlocks + 10).Select(_ => pool.Rent()).ToList();
        foreach (IMemoryOwner<byte> block in rented)
            block.Dispose();
        rented[0].Dispose(); // given back twice: still once in the pool

        Assert.Equal(BlockMemoryPool.RetainedBlocks, pool.FreeCount);
        var again = Enumerable.Range(0, BlockMemoryPool.RetainedBlocks).Select(_ => pool.Rent()).ToList();
        Assert.Equal(again.Count, again.Distinct().Count());
        Assert.Equal(0, pool.FreeCount);
    }

    [Fact]
    public void MoreThanABlockIsRefused()
    {
        using var pool = new BlockMemoryPool();

        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(BlockMemoryPool.BlockSize + 1));
    }
}
