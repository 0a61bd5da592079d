using System.Buffers;

namespace Beyla.Implementation;

/// <summary>
/// Makes a path low-cardinality by replacing segments that look like identifiers with
/// <c>*</c>: all digits, UUIDs, hex tokens of 8 or more characters with a digit, segments
/// with two or more digits, and segments longer than 32 characters.
/// </summary>
internal static class RouteHeuristic
{
    private const int LongSegment = 32;
    private static readonly SearchValues<char> s_hex = SearchValues.Create("0123456789abcdefABCDEF");

    public static string Apply(string path)
    {
        if (path.Length == 0 || path[0] != '/')
            return "/**";
        // Most paths keep every segment: only build a new string when one is replaced.
        Span<char> buffer = path.Length <= 512 ? stackalloc char[path.Length] : new char[path.Length];
        int written = 0;
        bool changed = false;
        int position = 0;
        while (position < path.Length)
        {
            buffer[written++] = '/';
            int start = position + 1;
            int end = path.IndexOf('/', start);
            if (end < 0)
                end = path.Length;
            ReadOnlySpan<char> segment = path.AsSpan(start, end - start);
            if (LooksLikeIdentifier(segment))
            {
                buffer[written++] = '*';
                changed = true;
            }
            else
            {
                segment.CopyTo(buffer[written..]);
                written += segment.Length;
            }
            position = end;
        }
        return changed ? new string(buffer[..written]) : path;
    }

    internal static bool LooksLikeIdentifier(ReadOnlySpan<char> segment)
    {
        if (segment.IsEmpty)
            return false;
        if (segment.Length > LongSegment)
            return true;
        int digits = 0;
        foreach (char c in segment)
        {
            if (char.IsAsciiDigit(c))
                digits++;
        }
        if (digits == 0)
            return false;
        if (digits == segment.Length || digits >= 2)
            return true;
        // One digit: a hex token (a3fbcdef), not a word like v2 or html5. (UUIDs are long.)
        return segment.Length >= 8 && !segment.ContainsAnyExcept(s_hex);
    }
}
