using Beyla.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Beyla.Bpf.Tests;

/// <summary>Hands every category the one <see cref="RecordingLogger"/>.</summary>
internal sealed class RecordingLoggerFactory(RecordingLogger logger) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => logger;

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    public void Dispose()
    {
    }
}
