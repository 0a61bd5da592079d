using Beyla.Implementation;
using Beyla.Tests.Support;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Beyla.Tests;

public sealed class RouteDecorationTests
{
    [Theory]
    [InlineData("/users/{id}", "/users/42", true)]
    [InlineData("/users/{id}", "/users/", false)]
    [InlineData("/users/{id}", "/users", false)]
    [InlineData("/users/{id}", "/users/42/orders", false)]
    [InlineData("/users/*/orders", "/users/abc/orders", true)]
    [InlineData("/users/*/orders", "/users/abc/order", false)]
    [InlineData("/static/**", "/static", true)]
    [InlineData("/static/**", "/static/css/site.css", true)]
    [InlineData("/static/**", "/staticx/a", false)]
    [InlineData("/", "/", true)]
    [InlineData("/", "/a", false)]
    [InlineData("/**", "/anything/at/all", true)]
    [InlineData("/a/b", "/a/b", true)]
    [InlineData("/a/b", "/a/b/", false)]
    [InlineData("/a/b", "/a/B", false)]
    public void PatternMatching(string pattern, string path, bool expected) =>
        Assert.Equal(expected, RoutePattern.Parse(pattern).Matches(path));

    [Theory]
    [InlineData("users/{id}")]
    [InlineData("/a/**/b")]
    [InlineData("/a/x{id}")]
    [InlineData("/a/b*")]
    public void BadPatternsAreRejectedWithTheirText(string pattern)
    {
        var ex = Assert.Throws<ArgumentException>(() => RoutePattern.Parse(pattern));
        Assert.Contains(pattern, ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new BeylaBuilder().WithEventSource(new FakeEventSource())
            .Configure(o => o.RoutePatterns.Add(pattern)).Build());
    }

    [Theory]
    [InlineData("/", "/")]
    [InlineData("/users/1234/orders", "/users/*/orders")]
    [InlineData("/users/6f1c2a5e-3b7d-4e8f-9a0b-1c2d3e4f5a6b", "/users/*")]
    [InlineData("/blobs/a3fbcdef", "/blobs/*")]
    [InlineData("/api/v2/items", "/api/v2/items")]
    [InlineData("/html5/index.html", "/html5/index.html")]
    [InlineData("/orders/2024-01-31/", "/orders/*/")]
    [InlineData("/item-42", "/*")]
    [InlineData("/token/abcdefghijklmnopqrstuvwxyzabcdefghij", "/token/*")]
    [InlineData("/deadbeef", "/deadbeef")]
    [InlineData("//x/7", "//x/*")]
    public void HeuristicReplacesIdentifiersOnly(string path, string expected) =>
        Assert.Equal(expected, RouteHeuristic.Apply(path));

    [Fact]
    public void FirstMatchingPatternWinsThenHeuristic()
    {
        var routes = new RouteDecorator(["/users/{id}", "/users/**"], UnmatchedRouteMode.Heuristic, 100);
        Assert.Equal("/users/{id}", routes.Decorate("svc", "/users/42"));
        Assert.Equal("/users/**", routes.Decorate("svc", "/users/42/orders"));
        Assert.Equal("/items/*", routes.Decorate("svc", "/items/42"));
    }

    [Theory]
    [InlineData(UnmatchedRouteMode.Wildcard, "/items/42", "/**")]
    [InlineData(UnmatchedRouteMode.Path, "/items/42", "/items/42")]
    [InlineData(UnmatchedRouteMode.Heuristic, "/items/42", "/items/*")]
    public void UnmatchedModes(UnmatchedRouteMode mode, string path, string expected) =>
        Assert.Equal(expected, new RouteDecorator([], mode, 100).Decorate("svc", path));

    [Fact]
    public void CapIsPerServiceAndOverflowIsCounted()
    {
        var routes = new RouteDecorator([], UnmatchedRouteMode.Path, 3);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal($"/p{i}", routes.Decorate("a", $"/p{i}"));
            Assert.Equal($"/p{i}", routes.Decorate("b", $"/p{i}"));
        }
        Assert.Equal("/**", routes.Decorate("a", "/p3"));
        Assert.Equal("/**", routes.Decorate("a", "/p3")); // a cache hit still counts
        Assert.Equal("/p1", routes.Decorate("a", "/p1")); // known routes keep working
        Assert.Equal(2, routes.Overflowed);
    }

    [Property(MaxTest = 300)]
    public bool CapHoldsForAnyPaths(string[] rawPaths, PositiveInt cap, bool heuristic)
    {
        int max = Math.Min(cap.Get, 50);
        var routes = new RouteDecorator([], heuristic ? UnmatchedRouteMode.Heuristic : UnmatchedRouteMode.Path, max);
        var seen = new HashSet<string>();
        foreach (string? raw in rawPaths ?? [])
        {
            string path = "/" + (raw ?? "");
            foreach (string service in new[] { "s1", "s2" })
            {
                string route = routes.Decorate(service, path);
                if (route.Length == 0)
                    return false;
                seen.Add(service + " " + route);
            }
        }
        return seen.Count(r => r.StartsWith("s1 ", StringComparison.Ordinal) && r != "s1 /**") <= max
            && seen.Count(r => r.StartsWith("s2 ", StringComparison.Ordinal) && r != "s2 /**") <= max;
    }

    [Property(MaxTest = 1000)]
    public bool HeuristicKeepsSegmentCountAndNeverThrows(NonNull<string> raw)
    {
        string path = "/" + raw.Get;
        string route = RouteHeuristic.Apply(path);
        return route.Split('/').Length == path.Split('/').Length;
    }

    private static string DistinctPath(int i, Random random) => (i % 5) switch
    {
        0 => $"/users/{i}/orders",
        1 => $"/orders/{Guid.NewGuid()}",
        2 => $"/static/{random.Next():x8}{i:x}.js",
        3 => "/search/" + string.Concat(Enumerable.Range(0, 4).Select(k => (char)('a' + (i / (int)Math.Pow(26, k) % 26)))),
        _ => $"/api/v1/items/{i}",
    };

    [Theory]
    [InlineData(false, 100_000)]
    [InlineData(true, 102)]
    public async Task SeriesCountForHundredThousandDistinctPaths(bool decorate, int expectedSeries)
    {
        var source = new FakeEventSource();
        var exporter = new Beyla.Exporters.PrometheusExporter(new Beyla.Exporters.PrometheusExporterOptions { ServeHttp = false, MaxSeriesPerMetric = 1_000_000 });
        await using BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).AddSink(exporter)
            .Configure(o =>
            {
                o.ServiceNameResolver = _ => "svc";
                o.SinkBufferCapacity = 100_000; // the fake source outruns the aggregation; this test counts series, not back-pressure
                o.RoutePatterns.Add("/static/**");
                if (!decorate)
                {
                    o.RoutePatterns.Clear();
                    o.UnmatchedRoutes = UnmatchedRouteMode.Path;
                    o.MaxRoutesPerService = int.MaxValue;
                }
            })
            .Build();
        var random = new Random(7);
        for (int i = 0; i < 100_000; i++)
            source.Add(new HttpSpan { Method = "GET", Path = DistinctPath(i, random), StatusCode = 200, DurationNanoseconds = 1000 });
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);

        string[] counts = exporter.WriteMetrics().Split('\n').Where(l => l.StartsWith("http_server_request_duration_seconds_count{", StringComparison.Ordinal)).ToArray();
        Assert.Equal(expectedSeries, counts.Length);
        Assert.Equal(100_000, counts.Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task HundredThousandDistinctPathsStayWithinTheCapThroughTheTracer()
    {
        var source = new FakeEventSource();
        var sink = new CollectingSink();
        await using BeylaTracer tracer = new BeylaBuilder().WithEventSource(source).AddSink(sink)
            .Configure(o =>
            {
                o.ServiceNameResolver = _ => "svc";
                o.RoutePatterns.Add("/static/**");
            })
            .Build();
        const int count = 100_000;
        var random = new Random(7);
        for (int i = 0; i < count; i++)
        {
            string path = (i % 5) switch
            {
                0 => $"/users/{i}/orders",
                1 => $"/orders/{Guid.NewGuid()}",
                2 => $"/static/{random.Next():x8}.js",
                3 => $"/search/{(char)('a' + (i % 26))}{(char)('a' + (i / 26 % 26))}{(char)('a' + (i / 676 % 26))}",
                _ => $"/api/v1/items/{i}",
            };
            source.Add(new HttpSpan { Method = "GET", Path = path, StatusCode = 200, DurationNanoseconds = 1000 });
        }
        source.Complete();
        await tracer.Completion.WaitAsync(TestTimeouts.Default);

        Assert.Equal(count, sink.Spans.Count);
        var routes = sink.Spans.Select(s => s.Route).ToHashSet();
        // Four id-shaped families collapse to one route each; the 17,576 distinct words of /search/xyz
        // hit the cap of 100, and the rest aggregate into /**.
        Assert.Contains("/users/*/orders", routes);
        Assert.Contains("/orders/*", routes);
        Assert.Contains("/static/**", routes);
        Assert.Contains("/api/v1/items/*", routes);
        Assert.Contains("/**", routes);
        Assert.Equal(100 + 1 + 1, routes.Count); // 100 capped unmatched routes, /static/** (a pattern) and /**
        long overflowed = sink.Spans.Count(s => s.Route == "/**");
        Assert.True(overflowed > count / 10, $"only {overflowed} spans overflowed");
        Assert.Equal(overflowed, tracer.Statistics.RoutesOverflowed);
    }
}
