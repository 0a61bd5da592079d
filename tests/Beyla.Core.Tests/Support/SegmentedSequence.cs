using System.Buffers;

namespace Beyla.Tests.Support;

/// <summary>Builds a <see cref="ReadOnlySequence{T}"/> whose segments end at chosen offsets.</summary>
internal static class SegmentedSequence
{
    /// <summary>Splits <paramref name="data"/> at each offset in <paramref name="cuts"/> (ascending, inside the data).</summary>
    public static ReadOnlySequence<byte> Create(byte[] data, IEnumerable<int> cuts)
    {
        var bounds = new List<int> { 0 };
        foreach (int cut in cuts)
        {
            if (cut > bounds[^1] && cut < data.Length)
                bounds.Add(cut);
        }
        bounds.Add(data.Length);

        Segment first = new(data.AsMemory(bounds[0], bounds[1] - bounds[0]), 0);
        Segment last = first;
        for (int i = 1; i < bounds.Count - 1; i++)
            last = last.Append(data.AsMemory(bounds[i], bounds[i + 1] - bounds[i]));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            // Each segment is its own array, so nothing can be read past a segment end by accident.
            Memory = memory.ToArray();
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
