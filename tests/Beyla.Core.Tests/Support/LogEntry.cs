using Microsoft.Extensions.Logging;

namespace Beyla.Tests.Support;

/// <summary>One entry recorded by <see cref="RecordingLogger"/>.</summary>
internal sealed record LogEntry(LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, object?> Properties, Exception? Exception);
