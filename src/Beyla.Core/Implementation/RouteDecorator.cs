namespace Beyla.Implementation;

/// <summary>
/// Gives each span its route: the first matching user pattern, else the path made
/// low-cardinality (<see cref="UnmatchedRouteMode"/>), with at most
/// <see cref="BeylaOptions.MaxRoutesPerService"/> distinct unmatched routes per service;
/// beyond that, routes aggregate into <see cref="OverflowRoute"/>. Thread-safe. Recent
/// (service, path) pairs are cached so that a repeated path costs no allocation.
/// </summary>
internal sealed class RouteDecorator
{
    public const string OverflowRoute = "/**";
    private const int CacheSlots = 4096;

    private readonly RoutePattern[] _patterns;
    private readonly UnmatchedRouteMode _mode;
    private readonly int _maxRoutesPerService;
    private readonly Dictionary<string, HashSet<string>> _routesByService = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly CacheEntry?[] _cache = new CacheEntry?[CacheSlots];
    private long _overflowed;

    public RouteDecorator(IEnumerable<string> patterns, UnmatchedRouteMode mode, int maxRoutesPerService)
    {
        _patterns = patterns.Select(RoutePattern.Parse).ToArray();
        _mode = mode;
        _maxRoutesPerService = maxRoutesPerService;
    }

    public long Overflowed => Interlocked.Read(ref _overflowed);

    public string Decorate(string service, string path)
    {
        int slot = (HashCode.Combine(service, path) & int.MaxValue) % CacheSlots;
        CacheEntry? cached = Volatile.Read(ref _cache[slot]);
        if (cached is not null && ReferenceEquals(cached.Service, service) && (ReferenceEquals(cached.Path, path) || cached.Path == path))
        {
            if (cached.Overflow)
                Interlocked.Increment(ref _overflowed);
            return cached.Route;
        }

        (string route, bool overflow) = Resolve(service, path);
        if (overflow)
            Interlocked.Increment(ref _overflowed);
        Volatile.Write(ref _cache[slot], new CacheEntry(service, path, route, overflow));
        return route;
    }

    private (string Route, bool Overflow) Resolve(string service, string path)
    {
        foreach (RoutePattern pattern in _patterns)
        {
            if (pattern.Matches(path))
                return (pattern.Text, false);
        }
        string route = _mode switch
        {
            UnmatchedRouteMode.Wildcard => OverflowRoute,
            UnmatchedRouteMode.Path => path,
            _ => RouteHeuristic.Apply(path),
        };
        if (ReferenceEquals(route, OverflowRoute))
            return (route, false);
        lock (_lock)
        {
            if (!_routesByService.TryGetValue(service, out HashSet<string>? routes))
            {
                routes = new HashSet<string>(StringComparer.Ordinal);
                _routesByService[service] = routes;
            }
            if (routes.TryGetValue(route, out string? known))
                return (known, false);
            if (routes.Count >= _maxRoutesPerService)
                return (OverflowRoute, true);
            routes.Add(route);
            return (route, false);
        }
    }

    private sealed record CacheEntry(string Service, string Path, string Route, bool Overflow);
}
