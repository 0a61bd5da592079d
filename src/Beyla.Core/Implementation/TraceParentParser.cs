using System.Diagnostics;
using System.Text;

namespace Beyla.Implementation;

/// <summary>
/// Finds a W3C <c>traceparent</c> header in a captured request head
/// (<c>traceparent: 00-{32 hex}-{16 hex}-{2 hex}</c>, name case-insensitive). Only the
/// captured bytes are searched; a header beyond them is not seen.
/// </summary>
internal static class TraceParentParser
{
    private const int ValueLength = 55;

    public static ActivityContext Find(ReadOnlySpan<byte> head)
    {
        int lineStart = head.IndexOf((byte)'\n');
        while (lineStart >= 0 && lineStart + 1 < head.Length)
        {
            ReadOnlySpan<byte> line = head[(lineStart + 1)..];
            int next = line.IndexOf((byte)'\n');
            ReadOnlySpan<byte> current = next < 0 ? line : line[..next];
            if (current.Length >= 12 && Ascii.EqualsIgnoreCase(current[..11], "traceparent"u8))
            {
                ReadOnlySpan<byte> value = current[11..].TrimStart((byte)' ');
                if (value.IsEmpty || value[0] != ':')
                    return default;
                value = value[1..].Trim(" \t\r"u8);
                if (value.Length < ValueLength)
                    return default;
                return TryParse(value[..ValueLength], out ActivityContext context) ? context : default;
            }
            if (current.IsEmpty || current is [(byte)'\r'])
                return default; // end of the head
            if (next < 0)
                return default;
            lineStart += 1 + next;
        }
        return default;
    }

    private static bool TryParse(ReadOnlySpan<byte> value, out ActivityContext context)
    {
        Span<char> chars = stackalloc char[ValueLength];
        for (int i = 0; i < value.Length; i++)
            chars[i] = (char)value[i];
        context = default;
        // version 00 only; ff is invalid; later versions must at least carry this layout.
        if (chars[2] != '-' || chars[35] != '-' || chars[52] != '-' || chars[..2].SequenceEqual("ff"))
            return false;
        return ActivityContext.TryParse(new string(chars), null, isRemote: true, out context)
            && context.TraceId != default && context.SpanId != default;
    }
}
