using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Beyla;

/// <summary>
/// Configures and builds a <see cref="BeylaTracer"/>: which processes to trace, where events
/// come from (kernel probe sets or a fake source), and which sinks receive the spans.
/// </summary>
/// <example>
/// <code>
/// await using var tracer = new BeylaBuilder()
///     .TraceProcesses(p => p.ListeningOn(8080))
///     .WithHttpProbes()
///     .Build();
/// await foreach (HttpSpan span in tracer.Spans(ct)) { ... }
/// </code>
/// </example>
public sealed class BeylaBuilder
{
    private readonly ProcessSelector _processes = new();
    private readonly List<Func<EventSourceContext, IEventSource>> _sources = [];
    private readonly List<ISpanSink> _sinks = [];
    private readonly List<ISpanSink> _ownedSinks = [];
    private readonly BeylaOptions _options = new();
    private ILoggerFactory _loggerFactory = NullLoggerFactory.Instance;

    /// <summary>Selects the processes to trace; may be called more than once (the criteria add up).</summary>
    /// <param name="configure">Adds criteria to the selector.</param>
    /// <returns>This builder.</returns>
    public BeylaBuilder TraceProcesses(Action<ProcessSelector> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(_processes);
        return this;
    }

    /// <summary>Adds an event source created when the tracer is built (probe sets register themselves this way).</summary>
    /// <param name="factory">Creates the source; may throw a <see cref="BeylaException"/> when it cannot run.</param>
    /// <returns>This builder.</returns>
    public BeylaBuilder WithEventSource(Func<EventSourceContext, IEventSource> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        _sources.Add(factory);
        return this;
    }

    /// <summary>Adds an existing event source, for example a <see cref="FakeEventSource"/>.</summary>
    /// <param name="source">The source; the tracer disposes it.</param>
    /// <returns>This builder.</returns>
    public BeylaBuilder WithEventSource(IEventSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        _sources.Add(_ => source);
        return this;
    }

    /// <summary>Adds a sink that receives every span. The caller keeps ownership of it.</summary>
    /// <param name="sink">The sink.</param>
    /// <returns>This builder.</returns>
    public BeylaBuilder AddSink(ISpanSink sink) => AddSink(sink, ownedByTracer: false);

    /// <summary>Adds a sink that receives every span.</summary>
    /// <param name="sink">The sink.</param>
    /// <param name="ownedByTracer">
    /// When true, disposing the tracer disposes the sink too (if it is <see cref="IAsyncDisposable"/>
    /// or <see cref="IDisposable"/>): what builder extensions that create their sink use.
    /// </param>
    /// <returns>This builder.</returns>
    public BeylaBuilder AddSink(ISpanSink sink, bool ownedByTracer)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sinks.Add(sink);
        if (ownedByTracer)
            _ownedSinks.Add(sink);
        return this;
    }

    /// <summary>Changes settings.</summary>
    /// <param name="configure">Edits the options.</param>
    /// <returns>This builder.</returns>
    public BeylaBuilder Configure(Action<BeylaOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        configure(_options);
        return this;
    }

    /// <summary>Sets where the tracer logs. Default: nowhere.</summary>
    /// <param name="loggerFactory">The logger factory.</param>
    /// <returns>This builder.</returns>
    public BeylaBuilder WithLogging(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _loggerFactory = loggerFactory;
        return this;
    }

    /// <summary>
    /// Creates the sources (for probe sets: loads and attaches the kernel programs) and starts
    /// the pipeline. Throws when anything cannot start; nothing stays attached then.
    /// </summary>
    /// <returns>A running tracer; dispose it to detach everything.</returns>
    /// <exception cref="InvalidOperationException">No event source was configured.</exception>
    /// <exception cref="BeylaException">A source could not start (privileges, kernel features, ...).</exception>
    public BeylaTracer Build()
    {
        if (_sources.Count == 0)
            throw new InvalidOperationException("No event source: call WithHttpProbes() (package Beyla.Bpf) or WithEventSource(...) before Build().");
        BeylaOptions options = _options.Clone();
        options.Validate();
        var context = new EventSourceContext(_processes, options, _loggerFactory);
        var created = new List<IEventSource>(_sources.Count);
        try
        {
            foreach (Func<EventSourceContext, IEventSource> factory in _sources)
                created.Add(factory(context) ?? throw new InvalidOperationException("An event source factory returned null."));
            // A sink that cannot start (a metrics port in use) throws here, before any span flows.
            return new BeylaTracer(created, [.. _sinks], [.. _ownedSinks], options, _loggerFactory);
        }
        catch
        {
            foreach (IEventSource source in created)
                source.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }
}
