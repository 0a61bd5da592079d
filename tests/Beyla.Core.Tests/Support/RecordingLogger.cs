using Microsoft.Extensions.Logging;

namespace Beyla.Tests.Support;

/// <summary>An <see cref="ILogger"/> that keeps every entry at or above its minimum level.</summary>
internal sealed class RecordingLogger : ILogger
{
    private readonly Lock _lock = new();
    private readonly List<LogEntry> _entries = [];
    private readonly LogLevel _minimumLevel;

    public RecordingLogger(LogLevel minimumLevel = LogLevel.Trace)
    {
        _minimumLevel = minimumLevel;
    }

    public IReadOnlyList<LogEntry> Entries
    {
        get
        {
            lock (_lock)
                return [.. _entries];
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= _minimumLevel;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
            return;
        var properties = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
        {
            foreach (KeyValuePair<string, object?> pair in pairs)
                properties[pair.Key] = pair.Value;
        }
        lock (_lock)
            _entries.Add(new LogEntry(logLevel, eventId, formatter(state, exception), properties, exception));
    }
}
