namespace Beyla.Implementation;

/// <summary>
/// One user route pattern, split into segments: literal, one-segment wildcard
/// (<c>{name}</c> or <c>*</c>) or a final <c>**</c> matching the rest.
/// </summary>
internal sealed class RoutePattern
{
    private readonly string?[] _segments; // null: any one segment
    private readonly bool _matchesRest;

    private RoutePattern(string text, string?[] segments, bool matchesRest)
    {
        Text = text;
        _segments = segments;
        _matchesRest = matchesRest;
    }

    public string Text { get; }

    public static RoutePattern Parse(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (!pattern.StartsWith('/'))
            throw new ArgumentException($"route pattern '{pattern}' must start with '/'", nameof(pattern));
        string[] parts = pattern[1..].Split('/');
        bool rest = parts.Length > 0 && parts[^1] == "**";
        int count = rest ? parts.Length - 1 : parts.Length;
        var segments = new string?[count];
        for (int i = 0; i < count; i++)
        {
            string part = parts[i];
            if (part == "**")
                throw new ArgumentException($"route pattern '{pattern}': '**' may only be the last segment", nameof(pattern));
            if (part == "*" || (part.Length > 2 && part[0] == '{' && part[^1] == '}'))
                segments[i] = null;
            else if (part.Contains('{') || part.Contains('}') || part.Contains('*'))
                throw new ArgumentException($"route pattern '{pattern}': segment '{part}' mixes text and a wildcard", nameof(pattern));
            else
                segments[i] = part;
        }
        return new RoutePattern(pattern, segments, rest);
    }

    public bool Matches(string path)
    {
        if (path.Length == 0 || path[0] != '/')
            return false;
        int position = 1;
        foreach (string? segment in _segments)
        {
            if (position > path.Length)
                return false; // the path has fewer segments than the pattern
            int end = path.IndexOf('/', position);
            if (end < 0)
                end = path.Length;
            ReadOnlySpan<char> current = path.AsSpan(position, end - position);
            if (segment is null ? current.IsEmpty : !current.SequenceEqual(segment))
                return false;
            position = end + 1;
        }
        return _matchesRest || position == path.Length + 1;
    }
}
