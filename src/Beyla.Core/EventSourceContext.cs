using Microsoft.Extensions.Logging;

namespace Beyla;

/// <summary>What a tracer hands to the event sources it creates.</summary>
public sealed class EventSourceContext
{
    internal EventSourceContext(ProcessSelector processes, BeylaOptions options, ILoggerFactory loggerFactory)
    {
        Processes = processes;
        Options = options;
        LoggerFactory = loggerFactory;
    }

    /// <summary>The processes to trace.</summary>
    public ProcessSelector Processes { get; }

    /// <summary>The tracer's settings.</summary>
    public BeylaOptions Options { get; }

    /// <summary>Where sources log.</summary>
    public ILoggerFactory LoggerFactory { get; }
}
