namespace Beyla.Implementation;

/// <summary>What the pipeline adds to a decoded span: its service name and its route. Shared by every source of a tracer.</summary>
internal sealed class SpanDecoration
{
    public SpanDecoration(BeylaOptions options)
    {
        Services = new ServiceNames(options.ServiceNameResolver);
        Routes = new RouteDecorator(options.RoutePatterns, options.UnmatchedRoutes, options.MaxRoutesPerService);
    }

    public ServiceNames Services { get; }

    public RouteDecorator Routes { get; }
}
