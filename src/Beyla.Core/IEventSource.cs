using System.IO.Pipelines;

namespace Beyla;

/// <summary>
/// Produces raw event records for the pipeline: the kernel probe sets, or a
/// <see cref="FakeEventSource"/> in tests. Each record is written to the pipe as a 4-byte
/// little-endian length followed by that many bytes of the record (see
/// <see cref="EventRecords"/>).
/// </summary>
public interface IEventSource : IAsyncDisposable
{
    /// <summary>A short name for diagnostics, for example <c>socket</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Events the source knows it lost before they reached the pipe (for example because
    /// the kernel ring buffer was full). Each lost event is one request not reported.
    /// </summary>
    long LostEvents { get; }

    /// <summary>
    /// Writes records to <paramref name="output"/> until the source ends or
    /// <paramref name="cancellationToken"/> is cancelled, then completes the writer.
    /// </summary>
    /// <param name="output">Where the records go.</param>
    /// <param name="cancellationToken">Stops the source.</param>
    /// <returns>A task that ends when the source has stopped writing.</returns>
    Task RunAsync(PipeWriter output, CancellationToken cancellationToken);
}
