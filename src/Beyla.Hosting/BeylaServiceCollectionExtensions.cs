using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beyla.Hosting;

/// <summary>Registers a Beyla tracer as a hosted service.</summary>
public static class BeylaServiceCollectionExtensions
{
    /// <summary>
    /// Adds a <see cref="BeylaHostedService"/> that builds a tracer when the host starts and
    /// disposes it when the host stops. The builder already logs through the host's logging.
    /// </summary>
    /// <example>
    /// <code>
    /// builder.Services.AddBeyla((beyla, services) => beyla
    ///     .TraceProcesses(p => p.Current())
    ///     .WithHttpProbes()
    ///     .AddPrometheus());
    /// </code>
    /// </example>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the builder; the service provider is there to resolve sinks or settings.</param>
    /// <param name="options">How start failures are handled.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddBeyla(this IServiceCollection services, Action<BeylaBuilder, IServiceProvider> configure, Action<BeylaHostingOptions>? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var hostingOptions = new BeylaHostingOptions();
        options?.Invoke(hostingOptions);
        services.AddSingleton(provider =>
        {
            ILoggerFactory loggerFactory = provider.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance;
            return new BeylaHostedService(() =>
            {
                BeylaBuilder builder = new BeylaBuilder().WithLogging(loggerFactory);
                configure(builder, provider);
                return builder;
            }, hostingOptions, loggerFactory.CreateLogger<BeylaHostedService>());
        });
        services.AddHostedService(provider => provider.GetRequiredService<BeylaHostedService>());
        return services;
    }

    /// <summary>Adds a <see cref="BeylaHostedService"/>; see the other overload.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures the builder.</param>
    /// <param name="options">How start failures are handled.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddBeyla(this IServiceCollection services, Action<BeylaBuilder> configure, Action<BeylaHostingOptions>? options = null)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddBeyla((builder, _) => configure(builder), options);
    }
}
