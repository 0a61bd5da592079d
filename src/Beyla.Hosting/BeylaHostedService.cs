using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Beyla.Hosting;

/// <summary>
/// Runs one <see cref="BeylaTracer"/> for the lifetime of the host: built when the host starts,
/// disposed (every kernel program detached) when it stops. Resolve it from the service provider
/// to read <see cref="Tracer"/>'s spans and statistics.
/// </summary>
public sealed partial class BeylaHostedService : IHostedService, IAsyncDisposable
{
    private readonly Func<BeylaBuilder> _createBuilder;
    private readonly BeylaHostingOptions _options;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource<BeylaTracer?> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private BeylaTracer? _tracer;

    internal BeylaHostedService(Func<BeylaBuilder> createBuilder, BeylaHostingOptions options, ILogger<BeylaHostedService> logger)
    {
        _createBuilder = createBuilder;
        _options = options;
        _logger = logger;
    }

    /// <summary>The running tracer; <see langword="null"/> before the host starts, after it stops, or when it could not start.</summary>
    public BeylaTracer? Tracer => Volatile.Read(ref _tracer);

    /// <summary>Why the tracer could not start, when it could not.</summary>
    public Exception? StartFailure { get; private set; }

    /// <summary>Completes with the tracer once the host has started it (or with null when it could not start).</summary>
    public Task<BeylaTracer?> Started => _started.Task;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            BeylaTracer tracer = _createBuilder().Build();
            Volatile.Write(ref _tracer, tracer);
            LogStarted(_logger, string.Join(", ", tracer.SourceNames));
            _started.TrySetResult(tracer);
        }
        catch (BeylaException ex) when (!_options.FailHostOnStartError)
        {
            StartFailure = ex;
            LogStartFailed(_logger, ex.Message.Split('\n')[0], ex);
            _started.TrySetResult(null);
        }
        catch (Exception ex)
        {
            StartFailure = ex;
            _started.TrySetException(ex);
            throw;
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    /// <summary>Disposes the tracer if it runs.</summary>
    /// <returns>A task that ends when every kernel program is detached.</returns>
    public async ValueTask DisposeAsync()
    {
        BeylaTracer? tracer = Interlocked.Exchange(ref _tracer, null);
        if (tracer is not null)
            await tracer.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(400, LogLevel.Information, "Beyla tracer started ({Sources})")]
    private static partial void LogStarted(ILogger logger, string sources);

    [LoggerMessage(401, LogLevel.Error, "Beyla tracer could not start; the app runs untraced: {Reason}")]
    private static partial void LogStartFailed(ILogger logger, string reason, Exception exception);
}
