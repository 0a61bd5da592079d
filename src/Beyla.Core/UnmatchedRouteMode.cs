namespace Beyla;

/// <summary>What <see cref="HttpSpan.Route"/> becomes for a path that no <see cref="BeylaOptions.RoutePatterns">route pattern</see> matches.</summary>
public enum UnmatchedRouteMode
{
    /// <summary>
    /// The path, with every segment that looks like an identifier (numbers, UUIDs, hex
    /// tokens, segments with two or more digits, very long segments) replaced by <c>*</c>:
    /// <c>/users/1234/orders</c> becomes <c>/users/*/orders</c>. The default.
    /// </summary>
    Heuristic,

    /// <summary>Every unmatched path becomes the route <c>/**</c>.</summary>
    Wildcard,

    /// <summary>The route is the path itself. Still bounded by <see cref="BeylaOptions.MaxRoutesPerService"/>.</summary>
    Path,
}
